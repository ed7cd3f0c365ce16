#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/files.h"
#include "common/log.h"
#include "common/status.h"
#include "common/strings.h"
#include "image/store_fs.h"

namespace crius::image {
namespace {

std::string_view DigestAlgorithm(std::string_view digest) {
  return digest.substr(0, digest.find(':'));
}

}  // namespace

IngestWriter::IngestWriter(std::string digest, int64_t expected_size, std::string temp_path,
                           std::string final_path, UniqueFd fd, Digester hasher)
    : digest_(std::move(digest)),
      expected_size_(expected_size),
      temp_path_(std::move(temp_path)),
      final_path_(std::move(final_path)),
      fd_(std::move(fd)),
      hasher_(std::move(hasher)) {}

IngestWriter::~IngestWriter() { Abort(); }

void IngestWriter::Abort() {
  if (done_) return;
  done_ = true;
  fd_.reset();
  if (::unlink(temp_path_.c_str()) != 0 && errno != ENOENT) {
    CRIUS_LOG(kWarn) << "remove ingest file " << temp_path_ << ": " << ErrnoStatus("unlink");
  }
}

absl::Status IngestWriter::Write(std::string_view data) {
  if (done_) return absl::FailedPreconditionError("ingest already committed or aborted");
  if (expected_size_ >= 0 && written_ + static_cast<int64_t>(data.size()) > expected_size_) {
    Abort();
    return absl::DataLossError(
        absl::StrCat("blob ", digest_, ": more than the expected ", expected_size_, " bytes"));
  }
  absl::Status s = WriteAll(fd_.get(), data, temp_path_);
  if (!s.ok()) {
    Abort();
    return Annotate(s, absl::StrCat("ingest ", digest_));
  }
  hasher_.Update(data);
  written_ += static_cast<int64_t>(data.size());
  return absl::OkStatus();
}

absl::Status IngestWriter::Commit() {
  if (done_) return absl::FailedPreconditionError("ingest already committed or aborted");
  std::string context = absl::StrCat("commit blob ", digest_);
  if (expected_size_ >= 0 && written_ != expected_size_) {
    Abort();
    return absl::DataLossError(
        absl::StrCat(context, ": got ", written_, " bytes, want ", expected_size_));
  }
  std::string actual = hasher_.Finish();
  if (actual != digest_) {
    Abort();
    return absl::DataLossError(absl::StrCat(context, ": content hashes to ", actual));
  }
  if (::fsync(fd_.get()) != 0) {
    absl::Status s = ErrnoStatus(absl::StrCat("fsync ", temp_path_));
    Abort();
    return Annotate(s, context);
  }
  fd_.reset();
  // Another ingest of the same digest may have won; both copies hold the
  // same verified bytes, so rename over it is harmless, but skipping keeps
  // readers that already opened it on the inode they expect.
  if (::access(final_path_.c_str(), F_OK) == 0) {
    Abort();
    return absl::OkStatus();
  }
  if (::rename(temp_path_.c_str(), final_path_.c_str()) != 0) {
    absl::Status s = ErrnoStatus(absl::StrCat("rename to ", final_path_));
    Abort();
    return Annotate(s, context);
  }
  done_ = true;
  std::string dir = final_path_.substr(0, final_path_.find_last_of('/'));
  return Annotate(FsyncDir(dir), context);
}

ContentStore::ContentStore(std::string root) : root_(std::move(root)) {}

absl::StatusOr<std::unique_ptr<ContentStore>> ContentStore::Open(const std::string& root) {
  std::string content = JoinPath(root, "content");
  for (const char* sub : {"blobs/sha256", "blobs/sha512", "ingest"}) {
    RETURN_IF_ERROR(Annotate(MkdirAll(JoinPath(content, sub), 0700), "open content store"));
  }
  // Nothing survives in ingest/ across a restart: each writer lived in
  // this process and the registry fetch is simply retried.
  std::string ingest = JoinPath(content, "ingest");
  RETURN_IF_ERROR(Annotate(RemoveAll(ingest), "clean ingest directory"));
  RETURN_IF_ERROR(Annotate(MkdirAll(ingest, 0700), "open content store"));
  return std::unique_ptr<ContentStore>(new ContentStore(content));
}

std::string ContentStore::BlobPath(std::string_view digest) const {
  return JoinPath(root_, "blobs", DigestAlgorithm(digest), DigestHex(digest));
}

bool ContentStore::Has(std::string_view digest) const {
  if (!ValidateDigest(digest).ok()) return false;
  return ::access(BlobPath(digest).c_str(), F_OK) == 0;
}

absl::StatusOr<std::string> ContentStore::Path(std::string_view digest) const {
  RETURN_IF_ERROR(ValidateDigest(digest));
  return BlobPath(digest);
}

absl::StatusOr<int64_t> ContentStore::Size(std::string_view digest) const {
  ASSIGN_OR_RETURN(std::string path, Path(digest));
  return store_internal::FileSize(path);
}

absl::StatusOr<std::unique_ptr<IngestWriter>> ContentStore::Ingest(std::string_view digest,
                                                                   int64_t expected_size) {
  ASSIGN_OR_RETURN(std::string final_path, Path(digest));
  ASSIGN_OR_RETURN(Digester hasher, Digester::ForDigest(digest));
  std::string temp = JoinPath(
      root_, "ingest",
      absl::StrCat(AbslView(DigestHex(digest).substr(0, 12)), "-", store_internal::RandomHex()));
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return ErrnoStatus(absl::StrCat("create ingest file ", temp));
  return std::unique_ptr<IngestWriter>(new IngestWriter(std::string(digest), expected_size,
                                                        std::move(temp), std::move(final_path),
                                                        std::move(fd), std::move(hasher)));
}

absl::Status ContentStore::Put(std::string_view digest, std::string_view data) {
  // Checked even when the blob is present, so a caller handing the wrong
  // bytes learns about it instead of being told they were stored.
  ASSIGN_OR_RETURN(Digester hasher, Digester::ForDigest(digest));
  hasher.Update(data);
  if (std::string actual = hasher.Finish(); actual != digest) {
    return absl::DataLossError(
        absl::StrCat("put blob ", AbslView(digest), ": content hashes to ", actual));
  }
  if (Has(digest)) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto writer, Ingest(digest, static_cast<int64_t>(data.size())));
  RETURN_IF_ERROR(writer->Write(data));
  return writer->Commit();
}

absl::StatusOr<std::string> ContentStore::Read(std::string_view digest, size_t max_bytes) const {
  ASSIGN_OR_RETURN(std::string path, Path(digest));
  absl::StatusOr<std::string> data = ReadFile(path, max_bytes);
  if (!data.ok()) return Annotate(data.status(), absl::StrCat("read blob ", AbslView(digest)));
  return data;
}

absl::Status ContentStore::Delete(std::string_view digest) {
  ASSIGN_OR_RETURN(std::string path, Path(digest));
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(absl::StrCat("delete blob ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ContentStore::List() const {
  std::vector<std::string> out;
  for (const char* algorithm : {"sha256", "sha512"}) {
    std::string dir = JoinPath(root_, "blobs", algorithm);
    std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
    if (!d) {
      if (errno == ENOENT) continue;
      return ErrnoStatus(absl::StrCat("list ", dir));
    }
    while (struct dirent* e = ::readdir(d.get())) {
      std::string digest = absl::StrCat(algorithm, ":", e->d_name);
      if (ValidateDigest(digest).ok()) out.push_back(std::move(digest));
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<int64_t> ContentStore::TotalSize() const {
  ASSIGN_OR_RETURN(std::vector<std::string> blobs, List());
  int64_t total = 0;
  for (const std::string& digest : blobs) {
    absl::StatusOr<int64_t> size = store_internal::FileSize(BlobPath(digest));
    if (size.ok()) total += *size;  // deleted meanwhile: not counted
  }
  return total;
}

}  // namespace crius::image
