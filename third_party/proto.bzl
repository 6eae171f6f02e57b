"""troupe_proto_library: the one way a .proto becomes C++ in this tree.

Bazel 4's native proto rules need @com_google_protobuf sources, which cannot be fetched offline,
so this runs Debian's `protoc` (and `grpc_cpp_plugin` when `grpc = True`) in a genrule and wraps
the generated files in a cc_library linked against //third_party:protobuf (and :grpc).

    troupe_proto_library(name = "echo_proto", src = "echo.proto", grpc = True)

Generated headers are included by their path: `#include "proto/echo.pb.h"` (and
`proto/echo.grpc.pb.h`). `deps` are other troupe_proto_library targets whose .proto files
`src` imports (by their workspace path).
"""

def troupe_proto_library(name, src, grpc = False, deps = [], visibility = None, testonly = False):
    base = src[:-len(".proto")]
    outs = [base + ".pb.h", base + ".pb.cc"]
    if grpc:
        outs += [base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    # The .proto's own repository is protoc's root, so its generated files are included by their
    # path in that repository also when this runs in another workspace (external/REPO/...).
    repo = native.repository_name().lstrip("@")
    root = "external/" + repo if repo else "."
    out = "$(GENDIR)/" + root if repo else "$(GENDIR)"
    plugin = ""
    if grpc:
        plugin = " --plugin=protoc-gen-grpc=$$(command -v grpc_cpp_plugin) --grpc_out=" + out
    native.genrule(
        name = name + "_gen",
        srcs = [src] + [d + "_srcs" for d in deps],
        outs = outs,
        cmd = "protoc -I" + root + " -I" + out + " --cpp_out=" + out + plugin +
              " $(location " + src + ")",
        testonly = testonly,
        visibility = ["//visibility:private"],
    )
    native.filegroup(
        name = name + "_srcs",
        srcs = [src],
        testonly = testonly,
        visibility = visibility,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        # Generated code is not ours to keep warning-free.
        copts = ["-Wno-unused-parameter"],
        # Label(): troupe's own targets, also when the macro is loaded from another workspace.
        deps = deps + [Label("//third_party:protobuf")] + ([Label("//third_party:grpc")] if grpc else []),
        testonly = testonly,
        visibility = visibility,
    )
