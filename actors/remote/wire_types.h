// How exported actors take messages off the wire, and how proxies put them on it.
//
// Only Protobuf message types that appear in an exported actor's Protocol can be decoded for
// it: the receiving node looks the envelope's type name up in that actor's table and rejects
// anything else, so nothing is ever instantiated from a name chosen by the peer. An entry
// FromNode<T> (remote_node.h) takes T off the wire and tells the actor who sent it.
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
#include "actors/tls/peer_identity.h"
#include "framework/system/actor_system.h"
#include "google/protobuf/message.h"

namespace troupe {

// A message from another node with its sender: list FromNode<T> (or Request<FromNode<T>, R>)
// in an exported actor's Protocol instead of T to learn which node sent each T. Senders use T.
template <typename T>
struct FromNode {
  T message;
  std::string node;   // the sending node's name (with TLS: the one its certificate carries)
  PeerIdentity peer;  // its verified identity (with TLS)
};

}  // namespace troupe

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

// Who sent a message that came from another node.
struct RemoteSender {
  std::string node;   // the name its Hello claimed (with TLS: checked against its certificate)
  PeerIdentity peer;  // its verified identity (with TLS)
  uint64_t incarnation = 0;  // its cluster incarnation when it sent this (0: not in a cluster)
};

template <typename T>
struct FromNodeTraits {
  using Wire = T;
  static constexpr bool kWrapped = false;
};
template <typename T>
struct FromNodeTraits<FromNode<T>> {
  using Wire = T;
  static constexpr bool kWrapped = true;
};

// Delivers one serialized message to the exported actor. INVALID_ARGUMENT if the bytes do not
// parse. For a request, `reply` is called once with the answer or an error. `has_room` is false
// while the actor's bounded mailbox is full (the caller then waits instead of delivering).
struct WireEntry {
  bool is_request = false;
  std::function<absl::Status(const std::string& bytes, const RemoteSender& sender,
                             absl::Duration timeout, WireReplyFn reply)>
      deliver;
  std::function<bool()> has_room;
};
using ExportTable = absl::flat_hash_map<std::string, WireEntry>;  // by full type name

template <typename P, std::size_t I>
void AddWireEntry(ActorSystem& system, const ActorRef<P>& ref, ExportTable& table) {
  using Entry = typename P::template Entry<I>;
  using Listed = typename Entry::Message;               // T, or FromNode<T>
  using T = typename FromNodeTraits<Listed>::Wire;      // what the wire carries
  constexpr bool kWrapped = FromNodeTraits<Listed>::kWrapped;
  // What the actor is sent for `message` from `sender`.
  auto as_listed = [](T message, const RemoteSender& sender) {
    if constexpr (kWrapped) {
      return Listed{std::move(message), sender.node, sender.peer};
    } else {
      return message;
    }
  };
  auto has_room = [cell = internal::CellRef(ref.cell())] { return cell->HasRoom(); };
  if constexpr (kIsProto<T>) {
    if constexpr (!Entry::kIsRequest) {
      table[ProtoTypeName<T>()] = WireEntry{
          false,
          [ref, as_listed](const std::string& bytes, const RemoteSender& sender, absl::Duration,
                           WireReplyFn) {
            T message;
            if (!message.ParseFromString(bytes)) {
              return absl::InvalidArgumentError(
                  absl::StrCat("malformed ", ProtoTypeName<T>(), " payload"));
            }
            ref.Tell(as_listed(std::move(message), sender));
            return absl::OkStatus();
          },
          has_room};
    } else if constexpr (kIsProto<typename Entry::Response>) {
      using R = typename Entry::Response;
      ActorSystem* sys = &system;
      table[ProtoTypeName<T>()] = WireEntry{
          true,
          [sys, ref, as_listed](const std::string& bytes, const RemoteSender& sender,
                                absl::Duration timeout, WireReplyFn reply) {
            T message;
            if (!message.ParseFromString(bytes)) {
              return absl::InvalidArgumentError(
                  absl::StrCat("malformed ", ProtoTypeName<T>(), " payload"));
            }
            (void)sys->Ask(ref, as_listed(std::move(message), sender), timeout,
                           [reply = std::move(reply)](absl::StatusOr<R> r) {
                             if (!r.ok()) {
                               reply(r.status());
                               return;
                             }
                             reply(WireMessage{ProtoTypeName<R>(), r->SerializeAsString()});
                           });
            return absl::OkStatus();
          },
          has_room};
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
