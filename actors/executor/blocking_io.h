// Blocking file and name-resolution calls, for use on the executor (never on a worker):
//
//   RunBlocking(ctx(), [path] { return ReadWholeFile(path); }, on_contents);
//
// Errors follow errno (NOT_FOUND for ENOENT, PERMISSION_DENIED for EACCES, ...), with the path
// in the message. These run on the executor's thread pool (file I/O through io_uring would
// need the worker's ring to own files, which it does not).
//
// Thread safety: plain functions, callable from any thread.
#ifndef ACTORS_EXECUTOR_BLOCKING_IO_H_
#define ACTORS_EXECUTOR_BLOCKING_IO_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace troupe {

absl::StatusOr<std::string> ReadWholeFile(const std::string& path);
// Creates or truncates `path`.
absl::Status WriteWholeFile(const std::string& path, const std::string& data);
// Creates `path` if missing; each call's data lands contiguously (O_APPEND).
absl::Status AppendToFile(const std::string& path, const std::string& data);
// The numeric addresses (IPv4 and IPv6) `host` resolves to, via getaddrinfo.
// NOT_FOUND if it does not resolve.
absl::StatusOr<std::vector<std::string>> ResolveHost(const std::string& host);

}  // namespace troupe

#endif  // ACTORS_EXECUTOR_BLOCKING_IO_H_
