"""What the build and the tests may use: troupe's Debian packages and a minimal Debian 12.

Run by tools/install_deps (after it has installed the packages), never on its own:
  deps_check.py --path [--optional=P]... PACKAGE...   prints a directory of links to the commands of the allowed
                                    packages and nothing else (tools/test makes it the tests' PATH)
  deps_check.py --check [--optional=P]... PACKAGE...  verifies that every library //third_party links, every Python
                                    module the tracked .py files import and every script's
                                    interpreter comes from an allowed package; exit 1 otherwise
  --optional=P: a package that is allowed but need not be installed (the benchmark peers): a
  library missing while one of these is not installed is reported, not failed.

The allowed packages are PACKAGE... (tools/debian_packages.txt), the packages a minimal Debian 12
has (debootstrap's minbase: Essential or Priority required, plus apt; and git, ca-certificates and
sudo, which a newcomer has to have to clone and install), and everything those depend on. A test
that passes only because this machine happens to have something else fails here, as it would on a
fresh machine (issue 13: the tests' launcher wanted a `python` command that Debian 12 lacks).
"""

import ast
import hashlib
import importlib.util
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRESH_MACHINE_EXTRAS = ["apt", "git", "ca-certificates", "sudo"]
BIN_DIRS = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]


def run(args):
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def minimal_debian():
    rows = run(["dpkg-query", "-W", "-f=${Package} ${Priority} ${Essential}\n"]).splitlines()
    return [r.split()[0] for r in rows if r.split()[1:2] == ["required"] or r.endswith(" yes")]


def installed():
    rows = run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\n"]).splitlines()
    return {r.split()[0] for r in rows if r.endswith(" installed")}


def allowed_packages(packages):
    """The packages and everything they depend on (installed ones: what apt picked here)."""
    roots = sorted(set(packages) | set(minimal_debian()) | set(FRESH_MACHINE_EXTRAS) & installed())
    out = run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
               "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances"]
              + roots)
    names = {line.split(":")[0] for line in out.splitlines() if line and not line[0].isspace()
             and not line.startswith("<")}
    return names & installed()


def package_files(package):
    for suffix in ("", ":amd64", ":all"):
        path = f"/var/lib/dpkg/info/{package}{suffix}.list"
        if os.path.exists(path):
            with open(path) as f:
                return [line.rstrip("\n") for line in f]
    return []


def usr_variants(path):
    """A file's names before and after Debian's /usr merge (dpkg may list either)."""
    variants = {path}
    for short in ("/bin/", "/sbin/", "/lib/", "/lib64/"):
        if path.startswith(short):
            variants.add("/usr" + path)
        if path.startswith("/usr" + short):
            variants.add(path[len("/usr"):])
    return variants


def allowed_files(packages):
    files = set()
    for p in allowed_packages(packages):
        for f in package_files(p):
            files |= usr_variants(f)
    return files


def make_path_dir(packages):
    files = allowed_files(packages)
    commands = {}
    for d in BIN_DIRS:
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            full = os.path.join(d, name)
            if name in commands or not os.access(full, os.X_OK) or os.path.isdir(full):
                continue
            # A command counts if its package is allowed, or if it is an alternatives link
            # (/usr/bin/nc -> /etc/alternatives/nc -> ...) that ends in an allowed file.
            if usr_variants(full) & files or usr_variants(os.path.realpath(full)) & files:
                commands[name] = full
    digest = hashlib.sha256(repr(sorted(commands.items())).encode()).hexdigest()[:16]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    target = os.path.join(cache, "troupe", f"test-path-{digest}")
    if not os.path.isdir(target):
        tmp = f"{target}.tmp{os.getpid()}"
        os.makedirs(tmp)
        for name, full in commands.items():
            os.symlink(full, os.path.join(tmp, name))
        try:
            os.rename(tmp, target)
        except OSError:  # another run made the same directory first
            subprocess.run(["rm", "-rf", tmp], check=False)
    print(target)


def owner(path, files):
    """True if an allowed package owns path (or the file it links to)."""
    return bool((usr_variants(path) | usr_variants(os.path.realpath(path))) & files)


def tracked(pattern):
    return run(["git", "-C", REPO, "ls-files", pattern]).split()


def third_party_libraries():
    libs = set()
    for build in tracked("third_party/*BUILD.bazel"):
        with open(os.path.join(REPO, build)) as f:
            libs |= set(re.findall(r'"-l([\w+.-]+)"', f.read()))
    return sorted(libs)


def library_path(lib):
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib", "/lib/x86_64-linux-gnu"):
        for ext in (".so", ".a"):
            path = os.path.join(d, f"lib{lib}{ext}")
            if os.path.exists(path):
                return path
    return None


def python_imports():
    """Top-level modules the tracked .py files import, less the standard library and our own."""
    ours = {os.path.splitext(os.path.basename(p))[0] for p in tracked("*.py")}
    modules = {}
    for p in tracked("*.py"):
        with open(os.path.join(REPO, p)) as f:
            tree = ast.parse(f.read(), p)
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ours:
                    modules.setdefault(top, p)
    return modules


def script_interpreters():
    """The interpreter each tracked executable script's #! line names, as a command."""
    found = {}
    for p in run(["git", "-C", REPO, "ls-files", "-s"]).splitlines():
        mode, _, _, path = p.split(maxsplit=3)
        if mode != "100755":
            continue
        with open(os.path.join(REPO, path), "rb") as f:
            first = f.readline().decode(errors="replace").strip()
        if not first.startswith("#!"):
            continue
        words = first[2:].split()
        command = words[1] if os.path.basename(words[0]) == "env" and len(words) > 1 else words[0]
        found.setdefault(command, path)
    return found


def check(packages, optional):
    files = allowed_files(packages + [p for p in optional if p in installed()])
    absent_optional = [p for p in optional if p not in installed()]
    problems = []
    libs = third_party_libraries()
    for lib in libs:
        path = library_path(lib)
        if path is None and absent_optional:
            print(f"install_deps --check: -l{lib} not installed, assumed to be the benchmark "
                  f"peers' ({' '.join(absent_optional)}: tools/install_deps --bench)")
        elif path is None:
            problems.append(f"library -l{lib} (//third_party) is not installed")
        elif not owner(path, files):
            problems.append(f"library -l{lib} ({path}) comes from a package troupe does not install")
    modules = python_imports()
    for module, user in sorted(modules.items()):
        spec = importlib.util.find_spec(module)
        origin = spec.origin if spec and spec.origin else (
            list(spec.submodule_search_locations)[0] if spec and spec.submodule_search_locations
            else None)
        if origin is None:
            problems.append(f"Python module {module} ({user}) is not installed for /usr/bin/python3")
        elif not owner(origin, files):
            problems.append(f"Python module {module} ({user}: {origin}) comes from a package "
                            "troupe does not install")
    interpreters = script_interpreters()
    for command, script in sorted(interpreters.items()):
        path = command if command.startswith("/") else next(
            (os.path.join(d, command) for d in BIN_DIRS if os.path.exists(os.path.join(d, command))),
            None)
        if path is None or not os.path.exists(path):
            problems.append(f"{script} starts with #!...{command}, which a fresh Debian 12 lacks")
        elif not owner(path, files):
            problems.append(f"{script} runs {command} ({path}), from a package troupe does not install")
    for p in problems:
        print(f"install_deps --check: {p}")
    print(f"install_deps --check: {len(libs)} libraries, {len(modules)} Python modules, "
          f"{len(interpreters)} script interpreters checked: {len(problems)} not from "
          "troupe's packages or a minimal Debian 12")
    return 1 if problems else 0


def main():
    mode = sys.argv[1]
    optional = [a.split("=", 1)[1] for a in sys.argv[2:] if a.startswith("--optional=")]
    packages = [a for a in sys.argv[2:] if not a.startswith("--")]
    if mode == "--path":
        make_path_dir(packages)
        return 0
    return check(packages, optional)


if __name__ == "__main__":
    sys.exit(main())
