// Protocol: the compile-time list of messages an actor accepts.
//
//   struct Increment { int by; };
//   struct Get {};
//   using CounterProtocol = troupe::Protocol<Increment, troupe::Request<Get, int>>;
//
// A plain entry T may be sent with Tell(). A Request<T, R> entry must be sent with Ask() and is
// answered with an R (or an error status). A typed ActorRef<CounterProtocol> rejects, at compile
// time, any message that is not in the list. The position of an entry is the tag the receiver
// switches on: no RTTI, no virtual call per message.
#ifndef FRAMEWORK_MESSAGE_PROTOCOL_H_
#define FRAMEWORK_MESSAGE_PROTOCOL_H_

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>

#include "framework/message/envelope.h"

namespace troupe {

template <typename T, typename R>
struct Request {
  using Message = T;
  using Response = R;
};

namespace internal {

template <typename E>
struct EntryTraits {
  using Message = E;
  using Response = void;
  static constexpr bool kIsRequest = false;
};

template <typename T, typename R>
struct EntryTraits<Request<T, R>> {
  using Message = T;
  using Response = R;
  static constexpr bool kIsRequest = true;
};

template <typename T, typename... Entries>
constexpr std::size_t IndexOfMessage() {
  constexpr bool matches[] = {std::is_same_v<T, typename EntryTraits<Entries>::Message>..., false};
  for (std::size_t i = 0; i < sizeof...(Entries); ++i) {
    if (matches[i]) return i;
  }
  return sizeof...(Entries);
}

template <typename T, typename... Entries>
constexpr std::size_t CountOfMessage() {
  return (std::size_t{0} + ... +
          (std::is_same_v<T, typename EntryTraits<Entries>::Message> ? 1 : 0));
}

}  // namespace internal

template <typename... Entries>
struct Protocol {
  static constexpr std::size_t kSize = sizeof...(Entries);
  static_assert(kSize < kFirstReservedTag, "too many entries in one Protocol");

  template <std::size_t I>
  using Entry = internal::EntryTraits<std::tuple_element_t<I, std::tuple<Entries...>>>;

  // True if T (a message type, not an entry) appears in the protocol.
  template <typename T>
  static constexpr bool kAccepts = internal::IndexOfMessage<T, Entries...>() < kSize;

  template <typename T>
  static constexpr uint32_t kTagOf =
      static_cast<uint32_t>(internal::IndexOfMessage<T, Entries...>());

  template <typename T>
  using EntryOf = Entry<internal::IndexOfMessage<T, Entries...>()>;

  // Process-unique identity of this protocol (checked by the name registry on lookup).
  static const void* Id() {
    static const char id = 0;
    return &id;
  }

 private:
  static_assert(
      ((internal::CountOfMessage<typename internal::EntryTraits<Entries>::Message, Entries...>() ==
        1) &&
       ...),
      "a message type may appear only once in a Protocol");
};

}  // namespace troupe

#endif  // FRAMEWORK_MESSAGE_PROTOCOL_H_
