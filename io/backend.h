// IoBackend: one worker's completion-shaped I/O loop over sockets.
//
// Every operation reports its outcome later, as a Completion passed to the IoHandler given
// with it, from inside Poll() on the thread driving the backend. Two implementations share this
// contract: ReactorBackend (epoll: readiness, the backend performs the syscalls and emulates
// completions) and ProactorBackend (io_uring: the kernel performs the I/O). MakeIoBackend
// (io/backend_selector.h) picks one.
//
// The contract, numbered (the conformance suite in io/testing checks each point):
//  1. An fd is driven by one handler: every operation on it names the same IoHandler.
//  2. Accept(fd) and Recv(fd) are continuous: completions keep coming with `more` set until
//     the operation ends (error, end of stream, StopRecv); the last one has more == false.
//  3. Recv data is owned by the backend and valid only during OnCompletion. Bytes arrive in
//     order; result 0 means the peer closed its side. StopRecv pauses: no kRecv completion is
//     delivered after it (also when it is called from inside one) until Recv resumes; bytes the
//     backend had already taken from the socket are kept and come first after Recv.
//  4. Send(fd, iov) sends every byte or fails: one completion, result = total bytes or -errno.
//     The iovec array is copied; the bytes it points to must stay alive until the completion.
//     At most one Send per fd is outstanding.
//  5. Close(fd) ends every operation on fd without further completions for them, closes the fd
//     and then delivers exactly one kClose completion; after it the handler is never called
//     again for that fd, so it may be destroyed.
//  6. Completions are never delivered from inside the call that started the operation.
//  7. Failures are results (-errno), never exceptions or aborts: ECONNRESET, EPIPE, EMFILE...
//
// Sockets come from the backend too (Listen, NewSocket, LocalAddress, SetNoDelay, Discard): the
// kernel's by default (io/socket), an in-memory network's for io/memory's backend.
//
// Thread safety: operations, Poll(), PollReady() and open_fds() by the thread that drives the
// backend, one at a time: the thread holding it (TryHold ... Release, or a Hold), which is its
// home thread (the one that called BindToCurrentThread(), a scheduler worker) unless the backend
// is shareable() and another thread took the hold - a worker taking over a home worker that has
// stopped polling (preempted, or stuck in a long turn), or an actor that runs away from its
// socket's worker writing directly. A thread about to block in the kernel lets the hold go for
// the wait and takes it back before handling what it found (LetGoForWait), one waiter at a
// time (BeginWait); a holder that leaves work for a poll wakes that waiter on Release().
// Single-threaded users (tests, the simulation) may call
// everything from the home thread without holding. Wake(), Post(), TryHold(), Release(),
// HeldByCurrentThread(), stats(), the socket calls and (on its own terms) SendNow() from any
// thread: Post() is how a thread that cannot take the hold gets an operation run by the one
// that has it. It owns neither handlers nor fds; Close() closes an fd for its caller.
#ifndef IO_BACKEND_H_
#define IO_BACKEND_H_

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "framework/base/mutex.h"
#include "io/socket/socket.h"

namespace troupe {

enum class IoOp : uint8_t { kAccept, kConnect, kRecv, kSend, kClose };

struct Completion {
  IoOp op;
  // kAccept: the accepted fd (non-blocking, close-on-exec); kRecv: bytes (0 = end of stream);
  // kSend: bytes sent (all of them); kConnect, kClose: 0. Negative: -errno.
  int32_t result = 0;
  const char* data = nullptr;  // kRecv: the bytes, valid during OnCompletion only
  bool more = false;           // kAccept/kRecv: the operation continues
};

class IoHandler {
 public:
  virtual void OnCompletion(int fd, const Completion& completion) = 0;

 protected:
  ~IoHandler() = default;
};

// Counters kept by the thread driving a backend; read from any thread (approximate).
struct IoBackendStats {
  uint64_t polls = 0;        // Poll() calls
  uint64_t waits = 0;        // polls that blocked in the kernel
  uint64_t syscalls = 0;     // epoll_wait/read/write/accept... or io_uring_enter
  uint64_t completions = 0;  // completions delivered to handlers
  uint64_t errors = 0;       // ... of operations that failed (result < 0: a reset, a refusal)
  uint64_t posted = 0;       // closures Post()ed to the driving thread (e.g. a send from a
                             // thread that could not take the hold)
  uint64_t sent_now = 0;     // SendNow() calls that sent everything they were given
};

class IoBackend {
 public:
  virtual ~IoBackend() = default;

  virtual std::string_view name() const = 0;  // what it is built on: "epoll", "io_uring"

  // Sockets for this backend's operations, any thread (defaults: the kernel's, io/socket).
  // A listening socket bound to `address` (port 0: one is picked); errors as ListenTcp.
  virtual absl::StatusOr<int> Listen(const SocketAddress& address, int backlog) {
    return ListenTcp(address, backlog);
  }
  // A socket for Connect.
  virtual absl::StatusOr<int> NewSocket(int family) { return NewTcpSocket(family); }
  virtual absl::StatusOr<SocketAddress> LocalAddress(int fd) { return troupe::LocalAddress(fd); }
  virtual void SetNoDelay(int fd) { troupe::SetNoDelay(fd); }
  // Closes an fd no operation was started on (an accepted connection refused at once).
  virtual void Discard(int fd);

  // The driving thread only (see the contract and the thread safety above).
  virtual void Accept(int listen_fd, IoHandler* handler) = 0;
  virtual void Connect(int fd, const sockaddr* addr, socklen_t len, IoHandler* handler) = 0;
  virtual void Recv(int fd, IoHandler* handler) = 0;
  virtual void StopRecv(int fd) = 0;
  virtual void Send(int fd, const iovec* iov, int iovcnt, IoHandler* handler) = 0;
  virtual void Close(int fd, IoHandler* handler) = 0;

  // A send made at once by the calling thread, any thread, without the hold: for a backend
  // whose sockets may be written directly while no Send() is outstanding on the fd (the caller
  // guarantees that, and that the fd stays open during the call). Never blocks; never delivers
  // a completion. Returns the bytes sent (maybe fewer than `size`) or -errno (-EAGAIN: none
  // could be sent now); -EOPNOTSUPP from a backend that cannot (sends_now() false).
  virtual int64_t SendNow(int /*fd*/, const char* /*data*/, size_t /*size*/) {
    return -EOPNOTSUPP;
  }
  // Whether SendNow() works here: epoll's sockets are the kernel's, written by one syscall.
  virtual bool sends_now() const { return false; }

  // Runs posted closures and delivers ready completions; if there were none, waits up to
  // `timeout` (absl::InfiniteDuration() for no limit) for some or for Wake(). Returns the
  // number of completions and closures handled. The driving thread only.
  virtual int Poll(absl::Duration timeout) = 0;

  // Like Poll(0) but without entering the kernel: runs posted closures and delivers what the
  // backend already knows (completions of operations finished inline, CQEs already reaped).
  // The worker loop calls it before sleeping, since the sleep's own wait polls the kernel.
  virtual int PollReady() = 0;
  // Home thread, called before each of its turns, cheap (no syscall): true if it should
  // Poll() now rather than at its next periodic poll - e.g. sends wait in a submission ring, or
  // sends in flight complete only when the kernel is entered (io_uring DEFER_TASKRUN).
  virtual bool WantsPoll() { return false; }

  // Makes a Poll() that is waiting (or the next one) return promptly. Any thread; costs a
  // syscall only when the driving thread is blocked in the kernel.
  void Wake() {
    // seq_cst with BeginWait: either it sees the notification or this sees its wait.
    if (!notified_.exchange(true, std::memory_order_seq_cst) &&
        waiting_.load(std::memory_order_seq_cst)) {
      Kick();
    }
  }

  // Runs `fn` on the driving thread inside a later Poll(). Any thread.
  void Post(absl::AnyInvocable<void()> fn);

  // Declares the calling thread the home thread (once, before the first operation).
  virtual void BindToCurrentThread();
  // The backend bound to the calling thread (a worker of an I/O-enabled system), or null.
  static IoBackend* Current();

  // Whether a thread other than the home thread may take the hold (TryHold) and drive this
  // backend. io_uring's ring is single-issuer: only its home thread may submit and reap, so a
  // backend that is not shareable is always held by its home thread (TryHold there is true and
  // Release does nothing) and never by another.
  bool shareable() const { return shareable_; }
  // Makes a shareable backend its home thread's alone (before its first operation), where no
  // other thread would drive it (a single worker).
  void KeepToHomeThread() { shareable_ = false; }

  // Takes the hold if nobody has it; true: the caller now drives the backend until Release().
  // Not reentrant: a thread that holds a shareable backend already gets false (check
  // HeldByCurrentThread(), or use Hold). Never blocks.
  bool TryHold() {
    const std::thread::id me = std::this_thread::get_id();
    if (!shareable_) return home_.load(std::memory_order_acquire) == me;
    std::thread::id none{};
    return holder_.compare_exchange_strong(none, me, std::memory_order_acquire,
                                           std::memory_order_relaxed);
  }
  // Takes the hold, waiting (spinning, then yielding) while another thread has it: for a thread
  // whose other holders keep it briefly (one operation, one non-blocking poll). Not reentrant.
  void TakeHold();
  // Lets the hold go. What the holder left for the next poll (a completion of an operation
  // that finished inline, an fd to service) wakes a thread waiting in the kernel, which would
  // not see it otherwise (the waiter lets the hold go for its wait: LetGoForWait).
  void Release() {
    if (!shareable_) return;
    const bool left_work = HasWorkForPoll();
    holder_.store(std::thread::id{}, std::memory_order_release);
    if (left_work && waiting_.load(std::memory_order_seq_cst)) Wake();
  }
  bool HeldByCurrentThread() const {
    return (shareable_ ? holder_ : home_).load(std::memory_order_acquire) ==
           std::this_thread::get_id();
  }

  // The backend held for a scope: already held by this thread (then left held), or taken for
  // the scope; false if another thread drives it (then Post instead).
  class Hold {
   public:
    explicit Hold(IoBackend& backend)
        : backend_(backend),
          nested_(backend.HeldByCurrentThread()),
          held_(nested_ || backend.TryHold()) {}
    ~Hold() {
      if (held_ && !nested_) backend_.Release();
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    explicit operator bool() const { return held_; }
    // After an operation run under a hold taken for it (not one that was this thread's
    // already: a poll, which delivers afterwards anyway): delivers what the operation completed
    // inline (a send that went out at once) while the thread still holds a shareable backend,
    // so that a thread waiting in the kernel is not woken for it.
    void AfterOperation() {
      if (held_ && !nested_ && backend_.shareable()) backend_.PollReady();
    }

   private:
    IoBackend& backend_;
    const bool nested_;
    const bool held_;
  };

  // Runs `fn` (operations on this backend) at once if the calling thread holds the backend or
  // can take the hold, followed by Hold::AfterOperation; false if another thread drives it
  // (`fn` did not run: Post it). Any thread.
  template <typename F>
  bool RunIfHeld(F& fn) {
    Hold hold(*this);
    if (!hold) return false;
    fn();
    hold.AfterOperation();
    return true;
  }

  // The scheduler worker this backend belongs to (IoService numbers them): its sockets' actors
  // are homed there. -1: none set (a socket's actor is homed where it starts); kAnyWorker: one
  // backend that every worker drives (IoService's shared reactor), its actors homed nowhere.
  static constexpr int kAnyWorker = -2;
  int home_worker() const { return home_worker_; }
  void set_home_worker(int worker) { home_worker_ = worker; }

  IoBackendStats stats() const;

  // Fds with operations or state in this backend (any thread; exact on the driving one). With
  // none, polling the kernel can only find wake-ups: the worker loop skips its periodic poll.
  size_t open_fds() const { return open_fds_.load(std::memory_order_relaxed); }

 protected:
  // Runs the posted closures; returns how many ran. Implementations call it from Poll().
  int RunPosted();

  // A completion produced inside the call that started its operation waits here for the next
  // Poll (contract point 6). `generation` is the implementation's tag for the fd's life at
  // queueing time, checked by DeferredStillWanted.
  struct Deferred {
    int fd;
    IoHandler* handler;
    uint64_t generation;
    Completion completion;
  };
  void Defer(int fd, IoHandler* handler, uint64_t generation, Completion completion) {
    deferred_.push_back({fd, handler, generation, completion});
  }
  bool HasDeferred() const { return !deferred_.empty(); }
  // Whether the next Poll() has work without the kernel (the holder only): deferred
  // completions, and whatever else an implementation keeps for it.
  virtual bool HasWorkForPoll() const { return HasDeferred(); }
  // Delivers the completions deferred before this call (not those deferred meanwhile), minus
  // those DeferredStillWanted drops; returns how many were delivered. Called from inside one
  // of those completions it delivers nothing (returns 0).
  int DeliverDeferred();
  // False drops a deferred completion (e.g. its fd was closed since it was queued).
  virtual bool DeferredStillWanted(const Deferred& /*d*/) const { return true; }
  bool HasPosted() const { return has_posted_.load(std::memory_order_acquire); }

  // Around a blocking kernel wait, by one thread at a time: BeginWait() claims the wait and
  // returns true, or returns false - a Wake() is pending (it is consumed: do not block), or
  // another thread waits already (a shareable backend let go by its waiter: poll without
  // blocking, and leave the wake-up fd to the waiter). EndWait() (after a true BeginWait only)
  // ends the wait and consumes a Wake() that came during it. Kick() interrupts the kernel wait
  // (eventfd write).
  bool BeginWait() {
    if (waiting_.exchange(true, std::memory_order_seq_cst)) return false;
    if (notified_.exchange(false, std::memory_order_seq_cst)) {
      waiting_.store(false, std::memory_order_release);
      return false;
    }
    return true;
  }
  void EndWait() {
    notified_.store(false, std::memory_order_relaxed);
    waiting_.store(false, std::memory_order_release);
  }
  // Around that wait, a shareable backend is let go by the thread that holds it, so that other
  // threads' operations (a send from an actor on another worker) go straight to the socket
  // instead of being posted and waking the waiter: LetGoForWait() is true if it let go, and
  // then TakeHold() takes it back before the wait's results are handled. (Unlike Release(),
  // it wakes nobody: the thread letting go comes back for its own work.)
  bool LetGoForWait() {
    if (!shareable_ || !HeldByCurrentThread()) return false;
    holder_.store(std::thread::id{}, std::memory_order_release);
    return true;
  }
  virtual void Kick() = 0;

  // Owner-only counters, published with relaxed stores.
  void Count(std::atomic<uint64_t>& counter, uint64_t n = 1) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> polls_{0}, waits_{0}, syscalls_{0}, completions_{0}, errors_{0};
  std::atomic<uint64_t> sent_now_{0};  // any thread: fetch_add
  bool shareable_ = false;  // set by an implementation's constructor (see shareable())
  // Maintained by implementations (the driving thread); read without the hold by open_fds().
  std::atomic<size_t> open_fds_{0};

 private:
  std::atomic<bool> waiting_{false};   // a thread is in (or entering) the kernel wait
  std::atomic<bool> notified_{false};  // a Wake() not yet consumed by a wait
  std::atomic<std::thread::id> home_{};    // BindToCurrentThread's caller
  std::atomic<std::thread::id> holder_{};  // shareable: the thread driving it now, if any
  int home_worker_ = -1;
  Mutex posted_mu_;
  std::vector<absl::AnyInvocable<void()>> posted_ ABSL_GUARDED_BY(posted_mu_);
  std::atomic<uint64_t> posted_count_{0};  // written under posted_mu_
  std::atomic<bool> has_posted_{false};
  // The driving thread only: the completions waiting, and those DeliverDeferred is delivering.
  std::vector<Deferred> deferred_, delivering_;
};

}  // namespace troupe

#endif  // IO_BACKEND_H_
