// Task<T>: the coroutine type of actor handlers that wait for something (usually an Ask).
//
//   troupe::Task<int> Handle(GetTotal) {
//     absl::StatusOr<int> a = co_await ctx().Ask(left_, Get{}, absl::Seconds(1));
//     absl::StatusOr<int> b = co_await ctx().Ask(right_, Get{}, absl::Seconds(1));
//     co_return a.value_or(0) + b.value_or(0);
//   }
//
// Suspending never blocks the worker. While a handler is suspended, the actor goes on
// processing its other messages (it is reentrant at co_await points, like Swift actors): state
// may change across a co_await. The handler resumes as a message on its own actor, so it never
// runs concurrently with the actor's other handlers.
//
// A Task is lazy and owned by whoever holds it; awaiting it (co_await) runs it. A handler's
// top-level Task is owned by the runtime. If the reply a suspended handler waits for can never
// be delivered (its actor stopped), the whole coroutine chain is destroyed, running the
// destructors of its locals.
//
// Thread safety: a Task belongs to one actor; it must not be shared across actors.
#ifndef FRAMEWORK_ACTOR_TASK_H_
#define FRAMEWORK_ACTOR_TASK_H_

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace troupe {

namespace internal {
class ActorCell;
// Defined in actor_cell.cc: reports an exception escaping a top-level handler coroutine.
void FailFromCoroutine(ActorCell* owner, std::exception_ptr error);
}  // namespace internal

template <typename T = void>
class Task;

namespace internal {

struct TaskPromiseBase {
  std::coroutine_handle<> continuation;  // who awaits us; null for a top-level (detached) task
  std::coroutine_handle<> root;          // the outermost frame of this await chain
  ActorCell* owner = nullptr;            // set on a detached root: where failures go
  std::exception_ptr error;

  std::suspend_always initial_suspend() noexcept { return {}; }

  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      TaskPromiseBase& p = h.promise();
      if (p.continuation) return p.continuation;
      // Detached root: report a failure, then free the frame.
      if (p.error && p.owner != nullptr) FailFromCoroutine(p.owner, p.error);
      h.destroy();
      return std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <typename T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) {
    value.emplace(std::forward<U>(v));
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
};

}  // namespace internal

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = internal::TaskPromise<T>;
  using Handle = std::coroutine_handle<promise_type>;

  Task() = default;
  explicit Task(Handle h) : h_(h) {}
  Task(Task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~Task() {
    if (h_) h_.destroy();
  }

  // Awaiting a Task from another Task runs it; its result (or exception) comes back here.
  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
    h_.promise().continuation = caller;
    h_.promise().root = caller.promise().root;
    return h_;
  }
  T await_resume() {
    if (h_.promise().error) std::rethrow_exception(h_.promise().error);
    if constexpr (!std::is_void_v<T>) return std::move(*h_.promise().value);
  }

  // Starts the task with nobody awaiting it; the frame frees itself when done. Exceptions are
  // reported to `owner`. Used by the runtime for handler coroutines.
  void StartDetached(internal::ActorCell* owner) && {
    Handle h = std::exchange(h_, {});
    h.promise().root = h;
    h.promise().owner = owner;
    h.resume();
  }

 private:
  Handle h_;
};

namespace internal {

template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

template <typename T>
struct IsTask : std::false_type {};
template <typename T>
struct IsTask<Task<T>> : std::true_type {};

// A continuation that resumes a suspended coroutine with the result it awaited; if it is
// destroyed without having run (the reply could not be delivered), it destroys the coroutine
// chain from its root so nothing leaks.
template <typename Result>
class ResumeWith {
 public:
  ResumeWith(std::coroutine_handle<> h, std::coroutine_handle<> root, std::optional<Result>* slot)
      : h_(h), root_(root), slot_(slot) {}
  ResumeWith(ResumeWith&& o) noexcept
      : h_(std::exchange(o.h_, {})), root_(std::exchange(o.root_, {})), slot_(o.slot_) {}
  ResumeWith& operator=(ResumeWith&&) = delete;
  ~ResumeWith() {
    if (root_) root_.destroy();
  }
  void operator()(Result r) {
    slot_->emplace(std::move(r));
    root_ = {};
    std::exchange(h_, {}).resume();
  }

 private:
  std::coroutine_handle<> h_;
  std::coroutine_handle<> root_;
  std::optional<Result>* slot_;
};

}  // namespace internal
}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_TASK_H_
