// PendingSend: the bytes of one IoBackend::Send still to go out, shared by the backends (a
// socket may take a send in several pieces; each backend resubmits the rest).
//
// Thread safety: none; owned by one fd's state on the backend's owner thread.
#ifndef IO_PENDING_SEND_H_
#define IO_PENDING_SEND_H_

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace troupe {

struct PendingSend {
  std::vector<iovec> iov;  // the caller's array, copied; entries before `index` are sent
  size_t index = 0;
  int64_t total = 0;  // bytes sent so far

  void Start(const iovec* v, int count) {
    iov.assign(v, v + count);
    index = 0;
    total = 0;
  }

  // Records that `n` more bytes went out.
  void Advance(size_t n) {
    total += static_cast<int64_t>(n);
    while (index < iov.size() && n >= iov[index].iov_len) {
      n -= iov[index].iov_len;
      ++index;
    }
    if (n > 0) {
      iov[index].iov_base = static_cast<char*>(iov[index].iov_base) + n;
      iov[index].iov_len -= n;
    }
  }

  bool done() const { return index == iov.size(); }
  iovec* rest() { return iov.data() + index; }
  size_t rest_count() const { return iov.size() - index; }
};

}  // namespace troupe

#endif  // IO_PENDING_SEND_H_
