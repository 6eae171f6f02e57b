"""Builds benchmark binaries at another git revision, for a same-run A/B against this tree.

Used by `bench/echo_compare --base=REV` and `bench/grpc_compare --base=REV`: a change's cost (or
gain) is read from one run that alternates both builds, not from tables of different days.
"""
import os
import shutil
import subprocess


def build_at(root, rev, targets, dest, suffix="_base"):
    """Builds `targets` ({binary name: Bazel target}) with --config=opt in a detached worktree of
    the repository at `root`, checked out at `rev`, and copies each binary to
    dest/<binary name><suffix>. Raises subprocess.CalledProcessError if a step fails."""
    tree = os.path.join(dest, "base_tree")
    subprocess.run(["git", "worktree", "add", "--detach", tree, rev], cwd=root, check=True,
                   stdout=subprocess.DEVNULL)
    try:
        subprocess.run(["bazel", "build", "--config=opt", *targets.values()], cwd=tree, check=True)
        out = subprocess.run(["bazel", "info", "--config=opt", "bazel-bin"], cwd=tree, check=True,
                             capture_output=True, text=True).stdout.strip()
        for name, target in targets.items():
            shutil.copy2(os.path.join(out, target[2:].replace(":", "/")),
                         os.path.join(dest, name + suffix))
        subprocess.run(["bazel", "shutdown"], cwd=tree)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", tree], cwd=root)
