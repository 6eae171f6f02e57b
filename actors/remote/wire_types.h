// How exported actors take messages off the wire, and how proxies put them on it.
//
// Only Protobuf message types that appear in an exported actor's Protocol can be decoded for
// it: the receiving node looks the envelope's type name up in that actor's table and rejects
// anything else, so nothing is ever instantiated from a name chosen by the peer.
//
// Thread safety: a built ExportTable is immutable; its functions may run on any thread.
#ifndef ACTORS_REMOTE_WIRE_TYPES_H_
#define ACTORS_REMOTE_WIRE_TYPES_H_

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "framework/system/actor_system.h"
#include "google/protobuf/message.h"

namespace troupe::internal {

template <typename T>
constexpr bool kIsProto = std::is_base_of_v<google::protobuf::Message, T>;

template <typename T>
const std::string& ProtoTypeName() {
  return T::descriptor()->full_name();
}

// A reply on the wire: the type name and the serialized message.
struct WireMessage {
  std::string type;
  std::string bytes;
};
using WireReplyFn = std::function<void(absl::StatusOr<WireMessage>)>;

// Delivers one serialized message to the exported actor. INVALID_ARGUMENT if the bytes do not
// parse. For a request, `reply` is called once with the answer or an error.
struct WireEntry {
  bool is_request = false;
  std::function<absl::Status(const std::string& bytes, absl::Duration timeout, WireReplyFn reply)>
      deliver;
};
using ExportTable = absl::flat_hash_map<std::string, WireEntry>;  // by full type name

template <typename P, std::size_t I>
void AddWireEntry(ActorSystem& system, const ActorRef<P>& ref, ExportTable& table) {
  using Entry = typename P::template Entry<I>;
  using T = typename Entry::Message;
  if constexpr (kIsProto<T>) {
    if constexpr (!Entry::kIsRequest) {
      table[ProtoTypeName<T>()] =
          WireEntry{false, [ref](const std::string& bytes, absl::Duration, WireReplyFn) {
                      T message;
                      if (!message.ParseFromString(bytes)) {
                        return absl::InvalidArgumentError(
                            absl::StrCat("malformed ", ProtoTypeName<T>(), " payload"));
                      }
                      ref.Tell(std::move(message));
                      return absl::OkStatus();
                    }};
    } else if constexpr (kIsProto<typename Entry::Response>) {
      using R = typename Entry::Response;
      ActorSystem* sys = &system;
      table[ProtoTypeName<T>()] = WireEntry{
          true, [sys, ref](const std::string& bytes, absl::Duration timeout, WireReplyFn reply) {
            T message;
            if (!message.ParseFromString(bytes)) {
              return absl::InvalidArgumentError(
                  absl::StrCat("malformed ", ProtoTypeName<T>(), " payload"));
            }
            (void)sys->Ask(ref, std::move(message), timeout,
                           [reply = std::move(reply)](absl::StatusOr<R> r) {
                             if (!r.ok()) {
                               reply(r.status());
                               return;
                             }
                             reply(WireMessage{ProtoTypeName<R>(), r->SerializeAsString()});
                           });
            return absl::OkStatus();
          }};
    }
  }
}

// The wire entries of `ref`'s Protocol: its Protobuf messages (requests whose response is a
// Protobuf message too). Other entries cannot be reached from another node.
template <typename P>
ExportTable MakeExportTable(ActorSystem& system, const ActorRef<P>& ref) {
  ExportTable table;
  [&]<std::size_t... I>(std::index_sequence<I...>) {
    (AddWireEntry<P, I>(system, ref, table), ...);
  }
  (std::make_index_sequence<P::kSize>());
  return table;
}

}  // namespace troupe::internal

#endif  // ACTORS_REMOTE_WIRE_TYPES_H_
