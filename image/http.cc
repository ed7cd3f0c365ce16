#include "image/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/strings.h"

namespace crius::image {
namespace {

struct CurlFree {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistFree {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct UrlFree {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
struct CurlStrFree {
  void operator()(char* s) const { curl_free(s); }
};
using CurlPtr = std::unique_ptr<CURL, CurlFree>;
using SlistPtr = std::unique_ptr<curl_slist, SlistFree>;
using UrlPtr = std::unique_ptr<CURLU, UrlFree>;
using CurlStr = std::unique_ptr<char, CurlStrFree>;

void GlobalInitOnce() {
  // curl_global_init is not thread-safe on every libcurl build, so it runs
  // exactly once, before any handle exists; it is never undone.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// State shared with curl's callbacks for one transfer.
struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  absl::Status callback_error;  // set when a callback aborts the transfer
  // Progress watchdog: bytes moved so far and when that count last changed.
  curl_off_t moved = 0;
  absl::Time last_progress = absl::Now();
};

bool Is2xx(long code) { return code >= 200 && code < 300; }

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  // A status line starts a new response (after 100 Continue, say); only the
  // last response's headers are reported.
  if (line.substr(0, 5) == "HTTP/") {
    t->response->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * n;
  std::string name = absl::AsciiStrToLower(AbslView(line.substr(0, colon)));
  std::string value(absl::StripAsciiWhitespace(AbslView(line.substr(colon + 1))));
  t->response->headers.emplace_back(std::move(name), std::move(value));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  std::string_view chunk(data, len);
  if (Is2xx(code) && t->request->on_body) {
    absl::Status s = t->request->on_body(chunk);
    if (!s.ok()) {
      t->callback_error = std::move(s);
      return 0;  // any short count aborts the transfer
    }
    t->response->streamed += len;
    return len;
  }
  std::string& body = t->response->body;
  const size_t room = t->request->max_body > body.size() ? t->request->max_body - body.size() : 0;
  if (len > room && Is2xx(code)) {
    t->callback_error = absl::ResourceExhaustedError(
        absl::StrCat("response body larger than ", t->request->max_body, " bytes"));
    return 0;
  }
  body.append(data, std::min(len, room));
  return len;
}

int64_t WholeSeconds(absl::Duration d) { return std::max<int64_t>(1, absl::ToInt64Seconds(d)); }

// curl's own low-speed check averages over a few seconds, so a stall right
// after a burst is noticed late; this aborts exactly when no byte has moved
// for the progress timeout. curl calls it at least about once a second.
int OnProgress(void* user, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* t = static_cast<Transfer*>(user);
  const absl::Time now = absl::Now();
  if (dlnow + ulnow != t->moved) {
    t->moved = dlnow + ulnow;
    t->last_progress = now;
    return 0;
  }
  const absl::Duration limit = absl::Seconds(WholeSeconds(t->request->progress_timeout));
  if (now - t->last_progress < limit) return 0;
  t->callback_error = absl::DeadlineExceededError(
      absl::StrCat(t->request->method, " ", RedactUrl(t->request->url), ": no progress for ",
                   WholeSeconds(t->request->progress_timeout), "s"));
  return 1;
}

absl::Status MapCurlError(CURLcode rc, const char* errbuf, const HttpRequest& req, Transfer& t) {
  if ((rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK) && !t.callback_error.ok()) {
    return t.callback_error;
  }
  std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
  std::string where = absl::StrCat(req.method, " ", RedactUrl(req.url));
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: {
      // curl uses one code for both kinds of timeout; its message tells them apart.
      if (absl::StrContains(detail, "too slow")) {
        return absl::DeadlineExceededError(absl::StrCat(
            where, ": no progress for ", WholeSeconds(req.progress_timeout), "s (", detail, ")"));
      }
      return absl::DeadlineExceededError(absl::StrCat(where, ": timed out: ", detail));
    }
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
      return absl::InvalidArgumentError(absl::StrCat(where, ": ", detail));
    case CURLE_OUT_OF_MEMORY:
      return absl::ResourceExhaustedError(absl::StrCat(where, ": ", detail));
    default:
      // Refused or reset connections, DNS and TLS failures: the registry
      // could not be reached or talked to; a later attempt may succeed.
      return absl::UnavailableError(absl::StrCat(where, ": ", detail));
  }
}

}  // namespace

std::string HttpResponse::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

absl::StatusOr<HttpResponse> HttpDo(const HttpRequest& req) {
  GlobalInitOnce();
  CurlPtr curl(curl_easy_init());
  if (!curl) return absl::ResourceExhaustedError("curl_easy_init failed");
  CURL* c = curl.get();

  SlistPtr headers;
  auto add_header = [&headers](const std::string& h) {
    curl_slist* next = curl_slist_append(headers.get(), h.c_str());
    if (next != nullptr) {
      (void)headers.release();
      headers.reset(next);
    }
  };
  for (const std::string& h : req.headers) add_header(h);
  // Without this curl waits for "100 Continue" before larger uploads.
  add_header("Expect:");

  HttpResponse response;
  Transfer t{c, &req, &response, absl::OkStatus()};
  char errbuf[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::max<int64_t>(1, absl::ToInt64Milliseconds(req.connect_timeout))));
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  // Backstop in case the progress callback is not reached.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(WholeSeconds(req.progress_timeout)));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, req.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  if (!req.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, req.ca_file.c_str());

  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method == "POST" || req.method == "PUT") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    if (req.method == "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return MapCurlError(rc, errbuf, req, t);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  long version = 0;
  curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
  response.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : 1;
  char* redirect = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect != nullptr) {
    response.redirect_url = redirect;
  }
  return response;
}

std::string RedactUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  size_t host_start = scheme_end + 3;
  size_t host_end = url.find_first_of("/?#", host_start);
  std::string_view authority = url.substr(host_start, host_end == std::string_view::npos
                                                          ? std::string_view::npos
                                                          : host_end - host_start);
  size_t at = authority.rfind('@');
  if (at == std::string_view::npos) return std::string(url);
  return absl::StrCat(AbslView(url.substr(0, host_start)), AbslView(url.substr(host_start + at + 1)));
}

std::string UrlOrigin(std::string_view url) {
  UrlPtr u(curl_url());
  if (!u) return "";
  std::string copy(url);
  if (curl_url_set(u.get(), CURLUPART_URL, copy.c_str(), 0) != CURLUE_OK) return "";
  auto part = [&u](CURLUPart p, unsigned flags) -> std::string {
    char* out = nullptr;
    if (curl_url_get(u.get(), p, &out, flags) != CURLUE_OK || out == nullptr) return "";
    CurlStr owned(out);
    return absl::AsciiStrToLower(owned.get());
  };
  std::string scheme = part(CURLUPART_SCHEME, 0);
  std::string host = part(CURLUPART_HOST, 0);
  std::string port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (scheme.empty() || host.empty()) return "";
  return absl::StrCat(scheme, "://", host, ":", port);
}

std::string UrlEscape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string Base64Encode(std::string_view data) { return absl::Base64Escape(AbslView(data)); }

absl::StatusOr<std::string> Base64Decode(std::string_view data) {
  std::string out;
  if (!absl::Base64Unescape(AbslView(data), &out)) {
    return absl::InvalidArgumentError("invalid base64");
  }
  return out;
}

}  // namespace crius::image
