#pragma once
// Lookups shared by the managers that keep records in an id-ordered map
// (pods, containers): an exact id or a unique prefix of one, as crictl and
// kubelet's tools allow, a snapshot of every record, and the label
// selector match of the List filters.

#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/map.h"

namespace crius::server {

// The record whose id is `id`, or the only one whose id starts with `id`.
// NOT_FOUND when none does; INVALID_ARGUMENT when the prefix is ambiguous.
// `kind` names the record in messages ("container", "pod sandbox"). The
// caller holds the map's lock.
template <typename Ptr>
absl::StatusOr<Ptr> FindByIdOrPrefix(const std::map<std::string, Ptr>& records,
                                     const std::string& id, const char* kind) {
  auto it = records.lower_bound(id);
  if (it != records.end() && it->first == id) return it->second;
  if (it != records.end() && it->first.compare(0, id.size(), id) == 0) {
    auto next = std::next(it);
    if (next == records.end() || next->first.compare(0, id.size(), id) != 0) return it->second;
    return absl::InvalidArgumentError(absl::StrCat(kind, " id prefix ", id, " is ambiguous"));
  }
  return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
}

// Whether `labels` has every key of `selector` with the same value (the
// label_selector of the List filters; an empty selector matches all).
inline bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& selector,
                        const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

// Every record, in id order. The caller holds the map's lock.
template <typename Ptr>
std::vector<Ptr> AllRecords(const std::map<std::string, Ptr>& records) {
  std::vector<Ptr> out;
  out.reserve(records.size());
  for (const auto& entry : records) out.push_back(entry.second);
  return out;
}

}  // namespace crius::server
