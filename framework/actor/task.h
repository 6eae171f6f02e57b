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
// g++ 12 caveat: it may relocate class temporaries created inside a co_await expression bitwise,
// corrupting types that point into themselves (std::string's inline buffer). The co_await forms
// of Ask and RunBlocking therefore refuse such temporaries at compile time: pass the message (or
// callable) as a named variable; it is copied. See ArgumentSafeAcrossCoAwait below.
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

// True if an argument of type A (as deduced for A&&) is safe inside a co_await expression under
// g++ 12: an lvalue (a named variable, not a temporary), a trivially copyable type, or a
// move-only type (in practice an owning pointer, which survives a bitwise relocation).
template <typename A>
inline constexpr bool kArgumentSafeAcrossCoAwait =
    std::is_lvalue_reference_v<A> || std::is_trivially_copyable_v<std::decay_t<A>> ||
    !std::is_copy_constructible_v<std::decay_t<A>>;

template <typename T>
struct IsTask : std::false_type {};
template <typename T>
struct IsTask<Task<T>> : std::true_type {};

// HeapAwaiter: the awaiter behind `co_await ctx().Ask(...)` and `co_await RunBlockingAwait(...)`.
//
// g++ 12 may copy an awaiter bitwise inside a co_await expression, which corrupts members that
// point into themselves (a std::string's inline buffer, for one). So the awaiter is only a
// pointer; everything else - how to start the operation (`Start`) and the slot for its result -
// lives in a heap State. When the operation starts, the State is handed to the continuation
// (Resumer), which owns it from then on: calling it stores the result and resumes the coroutine;
// destroying it uncalled (the result can never be delivered, e.g. its actor stopped) destroys
// the coroutine chain from its root, so nothing leaks.
template <typename Result, typename Start>
class HeapAwaiter {
 public:
  struct State {
    Start start;
    std::optional<Result> result;
  };

  class Resumer {
   public:
    Resumer(std::coroutine_handle<> h, std::coroutine_handle<> root, State* state)
        : h_(h), root_(root), state_(state) {}
    Resumer(Resumer&& o) noexcept
        : h_(std::exchange(o.h_, {})),
          root_(std::exchange(o.root_, {})),
          state_(std::exchange(o.state_, nullptr)) {}
    Resumer& operator=(Resumer&&) = delete;
    ~Resumer() {
      if (root_) root_.destroy();  // never called: the coroutine can never resume
      delete state_;
    }
    void operator()(Result r) {
      state_->result.emplace(std::move(r));
      root_ = {};
      std::exchange(h_, {}).resume();  // await_resume reads the result; we still own it
    }

   private:
    std::coroutine_handle<> h_;
    std::coroutine_handle<> root_;
    State* state_;
  };

  explicit HeapAwaiter(Start start) : state_(new State{std::move(start), std::nullopt}) {}
  // Trivially copyable on purpose (see above); the State is freed by the Resumer.

  bool await_ready() const noexcept { return false; }
  template <typename P>
  void await_suspend(std::coroutine_handle<P> h) {
    Start start = std::move(state_->start);  // not run from inside the State it may free
    start(Resumer(h, h.promise().root, state_));
  }
  Result await_resume() { return std::move(*state_->result); }

 private:
  State* state_;
};

}  // namespace internal
}  // namespace troupe

#endif  // FRAMEWORK_ACTOR_TASK_H_
