// EXPECT-ERROR: a message type may appear only once in a Protocol
#include "framework/actor/compile_tests/common.h"

using Twice = troupe::Protocol<Increment, Increment>;
static_assert(Twice::kSize == 2);
