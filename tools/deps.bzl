"""troupe_dependencies(): what a Bazel workspace that uses troupe needs, with no network.

In the consumer's WORKSPACE:

    local_repository(name = "troupe", path = "path/to/troupe")   # or an http_archive
    load("@troupe//tools:deps.bzl", "troupe_dependencies")
    troupe_dependencies()

and in its .bazelrc `build --cxxopt=-std=c++20`. Then depend on troupe's libraries, e.g.
`@troupe//framework/system`, `@troupe//actors/grpc`, and build .proto files with
`load("@troupe//third_party:proto.bzl", "troupe_proto_library")`. System libraries (Abseil, gRPC,
Protobuf, GoogleTest, liburing) come from Debian packages through `@troupe//third_party:*`
(`tools/install_deps` in troupe installs them).
"""

def _shim_impl(ctx):
    # The repository is troupe's offline shim directory, linked entry by entry.
    d = ctx.path(ctx.attr.marker).dirname
    for entry in d.readdir():
        ctx.symlink(entry, entry.basename)

_troupe_shim = repository_rule(
    implementation = _shim_impl,
    attrs = {"marker": attr.label(allow_single_file = True)},
    local = True,
)

def troupe_dependencies():
    """Declares the repositories Bazel 4.2.3 asks for, satisfied offline as troupe does, and
    the Python toolchain."""
    if not native.existing_rule("rules_cc"):
        _troupe_shim(name = "rules_cc", marker = "@troupe//third_party/shims/rules_cc:BUILD.bazel")
    if not native.existing_rule("remote_coverage_tools"):
        _troupe_shim(
            name = "remote_coverage_tools",
            marker = "@troupe//third_party/shims/remote_coverage_tools:BUILD.bazel",
        )
    if not native.existing_rule("rules_java"):
        native.local_repository(name = "rules_java", path = "/usr/share/bazel/rules/java")
    if not native.existing_rule("platforms"):
        native.local_repository(name = "platforms", path = "/usr/share/bazel/tools/platforms")

    # Python targets run on Debian's /usr/bin/python3 (Bazel's own launcher wants a `python`
    # command, which Debian 12 does not have).
    native.register_toolchains("@troupe//third_party/python:debian_python_toolchain")
