"""The ``ec2imds`` command (also ``python -m ec2imds``): IMDS as JSON for ``jq``.

Keeps ec2imds 0.0.3's flags and output (one JSON object keyed by category path) and adds
``--raw``, ``--tree``, ``--schema``, ``--validate``, ``--watch``, ``--verify-identity``,
``--doctor`` and ``--simulate``.
Start-up matters (one call per value in shell scripts), so this module imports only the
standard library and the catalog; the client, the models and httpx are imported when a
request needs them (never httpx: requests go through the default driver,
:mod:`ec2imds._drivers.default`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NamedTuple, NoReturn, cast

from ec2imds import __version__, _category_json, _simoptions
from ec2imds._categories import CATEGORIES
from ec2imds._log import log
from ec2imds.endpoints import DEFAULT_ENDPOINTS, construct_endpoint_list_str

if TYPE_CHECKING:
    import logging

    from ec2imds._drivers.default import DefaultDriver
    from ec2imds.catalog import Node
    from ec2imds.crawl import RawNode, Walk
    from ec2imds.errors import Failures
    from ec2imds.settings import Settings

__all__ = ["EXIT_OK", "EXIT_RUNTIME", "EXIT_USAGE", "main"]

EXIT_OK = 0
#: Unreachable, disabled, token, HTTP or validation errors (and an invalid --validate dump).
EXIT_RUNTIME = 1
#: A bad flag, regex, category, endpoint or setting.
EXIT_USAGE = 2

IMDS_API_VERSION = "latest"
PROG = "ec2imds"

EPILOG = """\
examples:
  ec2imds                                   everything, as one JSON object
  ec2imds meta-data/instance-id meta-data/placement/region
  ec2imds -E 'meta-data/placement/.*'       categories matching a regex
  ec2imds -L                                list the categories
  ec2imds --raw meta-data/instance-id       the plain value, for $(...)
  ec2imds -U > userdata                     user data, byte for byte
  ec2imds -U --decode | less                gzip undone; a MIME multipart: its parts as JSON
  ec2imds --tree | jq .                     the nested, validated tree
  ec2imds --schema > imds.schema.json       the JSON Schema of --tree output
  ec2imds --validate saved.json other.json  check saved --tree dumps (--strict:
                                            unknown keys are errors, not warnings)
  ec2imds --simulate -a                     try it anywhere: the embedded simulator
  ec2imds --simulate --spot-interruption-after 1 --watch --once
                                            a spot interruption, simulated, watched
  ec2imds --watch                           one JSON line per event, as they come
  ec2imds --watch spot --once --exec 'systemctl start drain.service'
                                            wait for a spot interruption, then drain
  ec2imds --watch maintenance autoscaling --interval 60 | jq -c .value
  ec2imds --verify-identity                 the identity document, signature verified
  ec2imds --doctor                          why IMDS fails here: checks, verdict, fixes

watching (--watch [CATEGORY...]; categories: spot, rebalance, maintenance, autoscaling,
default all): polls every 5 s (spot, rebalance), 30 s (maintenance) or 10 s (autoscaling)
unless --interval says otherwise; prints each event once, when it appears or changes;
what is already there at start is printed at once (but not Auto Scaling's steady
InService). --exec runs CMD (split like a shell does, but no shell) once per event with
the event's JSON line on its stdin and its output on stderr; the watch waits for it and
goes on if it fails. SIGINT or SIGTERM end the watch with status 0.

exit codes:
  0  success (and a --watch ended by SIGINT or SIGTERM)
  1  runtime error: IMDS unreachable or disabled, token, HTTP or validation error,
     or an invalid --validate file (with -a, the other categories are still printed);
     with --raw: the category is absent on this instance (404; nothing on stdout);
     with --watch: IMDS disabled or lost for over 60 s, or the CMD of --once failed;
     with --verify-identity: the document did not verify (the reason on stderr);
     with -U --decode: the user data cannot be decoded (corrupt gzip, over 16 MiB);
     with --doctor: a problem stops IMDS (the report is on stdout)
  2  usage error: bad flag, regex, category, endpoint or setting

environment:
  AWS_EC2_METADATA_DISABLED, AWS_EC2_METADATA_SERVICE_ENDPOINT,
  AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE, AWS_METADATA_SERVICE_TIMEOUT,
  AWS_METADATA_SERVICE_NUM_ATTEMPTS (as in the AWS SDKs; --imds wins)
"""


class UsageError(Exception):
    """A bad command line: exit 2."""


class _Parser(argparse.ArgumentParser):
    #: The formatter's width while arguments are added. argparse builds a formatter for
    #: every ``add_argument`` (to check its metavar); without a width each one asks
    #: ``shutil`` for the terminal's (importing shutil, bz2 and lzma on the way). Help and
    #: usage text are formatted to the terminal's width (None).
    _width: int | None = 80
    #: The options that go with --simulate (the simulator's own, shared).
    simulate_options: list[argparse.Action]

    def _get_formatter(self) -> argparse.HelpFormatter:
        return argparse.RawDescriptionHelpFormatter(prog=self.prog, width=self._width)

    def format_help(self) -> str:
        self._width = None
        return super().format_help()

    def format_usage(self) -> str:
        self._width = None
        return super().format_usage()

    def error(self, message: str) -> NoReturn:
        # argparse quotes arguments as given: escape control characters, so that an
        # argument cannot break the one-line message or send terminal escapes.
        raise UsageError(_printable(message))


def _printable(text: str) -> str:
    """``text`` with control characters escaped: one line, no terminal escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _parser() -> _Parser:
    from ec2imds.tokens import default_token_dir

    p = _Parser(
        prog=PROG,
        description="Read the EC2 Instance Metadata Service (IMDSv2) and print JSON.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # as _Parser._get_formatter
        add_help=False,
    )
    cmd = p.add_argument_group("commands (one at a time)")
    cmd.add_argument("-h", "--help", action="store_true", help="print this message and exit")
    cmd.add_argument("-V", "--version", action="store_true", help="print version info and exit")
    cmd.add_argument("-a", "--all", action="store_true", help="every category (the default)")
    cmd.add_argument("-E", metavar="REGEX", dest="exec_re", help="categories matching REGEX")
    cmd.add_argument("-L", "--list-all", action="store_true", help="list every category")
    cmd.add_argument("-l", metavar="REGEX", dest="list_re", help="list categories matching REGEX")
    cmd.add_argument(
        "-U", "--user-data", action="store_true", help="user data, raw, to stdout (not a tty)"
    )
    cmd.add_argument("--raw", metavar="CATEGORY", help="the plain value of one category")
    cmd.add_argument("--tree", action="store_true", help="the nested, validated tree as JSON")
    cmd.add_argument(
        "--schema",
        nargs="?",
        const="InstanceMetadata",
        metavar="NAME",
        help="print a JSON Schema: a model or a catalog path (default: the --tree output)",
    )
    cmd.add_argument(
        "--validate",
        action="store_true",
        help="validate saved --tree dumps: the FILE arguments ('-': stdin)",
    )
    cmd.add_argument(
        "--watch",
        action="store_true",
        help="print one JSON line per event (CATEGORY: spot, rebalance, maintenance, autoscaling)",
    )
    cmd.add_argument(
        "--verify-identity",
        action="store_true",
        help="the identity document, once its signature verified (needs ec2imds[verify])",
    )
    cmd.add_argument(
        "--doctor",
        action="store_true",
        help="check why IMDS fails here, one line a check, with the fixes (--json: as JSON)",
    )
    verify = p.add_argument_group("verify options")
    verify.add_argument(
        "--signature",
        choices=("rsa2048", "pkcs7", "signature"),
        help="check this signature only (default: rsa2048, pkcs7 if absent, then signature)",
    )
    verify.add_argument(
        "--certificate", metavar="PEM", help="verify with this certificate, not AWS's pinned one"
    )
    watch = p.add_argument_group("watch options")
    watch.add_argument(
        "--exec", metavar="CMD", dest="exec_cmd", help="run CMD per event, its JSON on stdin"
    )
    watch.add_argument("--once", action="store_true", help="exit after the first event")
    watch.add_argument(
        "--interval", metavar="SECONDS", help="seconds between polls (default: 5, 30 or 10)"
    )
    user = p.add_argument_group("user data options")
    user.add_argument(
        "--decode",
        action="store_true",
        help="with -U: gunzip, and a MIME multipart document as JSON parts (as cloud-init)",
    )
    doctor = p.add_argument_group("doctor options")
    doctor.add_argument("--json", action="store_true", help="with --doctor: one JSON document")
    val = p.add_argument_group("validate options")
    val.add_argument(
        "--strict", action="store_true", help="with --validate: unknown keys are errors"
    )
    opt = p.add_argument_group("options")
    opt.add_argument(
        "-v", "--verbose", action="count", default=0, help="more detail on stderr (-vv: requests)"
    )
    opt.add_argument(
        "--imds",
        metavar="ENDPOINT_LIST",
        help=f"IMDS endpoints (default: {construct_endpoint_list_str(DEFAULT_ENDPOINTS)})",
    )
    opt.add_argument(
        "--profile",
        metavar="NAME",
        help="the AWS config file's profile to read (default: $AWS_PROFILE, then default)",
    )
    opt.add_argument(
        "--endpoint-mode",
        metavar="MODE",
        help="IPv4 or IPv6 (any case): that IMDS endpoint alone; an endpoint beats it",
    )
    opt.add_argument(
        "-t",
        metavar="DIR",
        dest="token_dir",
        help=f"token directory (default: {default_token_dir()})",
    )
    opt.add_argument(
        "--simulate", action="store_true", help="query the embedded IMDS simulator instead"
    )
    sim = p.add_argument_group(
        "simulate options (with --simulate; the events SECONDS after start, for --watch)"
    )
    p.simulate_options = [
        *_simoptions.add_tree_options(sim, "--simulate-tree", "simulate_tree"),
        *_simoptions.add_event_options(sim),
    ]
    opt.add_argument(
        "--show-secrets",
        action="store_true",
        help="with -a, -E or --tree: show credentials' secrets (masked unless named)",
    )
    p.add_argument(
        "categories",
        nargs="*",
        metavar="CATEGORY",
        help="category paths to print (with --watch: categories to watch; with --validate: "
        "the files)",
    )
    return p


def _compile(pattern: str, flag: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise UsageError(f"{flag} {pattern!r}: invalid regex: {exc}") from None


def _matching(pattern: re.Pattern[str]) -> list[str]:
    # re.match, as 0.0.3 did: anchored at the start, not at the end.
    return [c for c in CATEGORIES if pattern.match(c)]


def _category(text: str) -> str:
    """The path a category argument names: a category, or a path below a keyed
    directory (``meta-data/tags/instance/Name``, also ``meta-data/tags/instance=Name``)."""
    found = _category_json.resolve_path(text)  # a tag key may itself contain "="
    if found is not None:
        return found
    path, sep, arg = text.partition("=")  # 0.0.3 accepted "path=arg"
    found = _category_json.resolve_category(path)
    if found is not None and sep and arg and _category_json.category_is_dir(found):
        below = _category_json.resolve_path(f"{found}/{arg.strip('/')}")
        if below is None:
            raise UsageError(f"{text!r}: {arg!r} is not a name under {found}")
        return below
    if found is not None:
        return found
    import difflib

    close = difflib.get_close_matches(path.strip("/"), list(CATEGORIES), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(close)}?)" if close else " (ec2imds -L lists them)"
    raise UsageError(f"{path!r}: unknown category{hint}")


#: The environment variables of the IMDS settings (the AWS SDKs' own), and of the AWS
#: config file that can hold them: --simulate ignores them all.
_AWS_IMDS_VARIABLES = (
    "AWS_EC2_METADATA_",
    "AWS_METADATA_SERVICE_",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_PROFILE",
)
#: The environment --simulate resolves its settings from: none, and no config file.
_NO_SETTINGS = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


class _Run:
    """One invocation: parsed arguments, the driver when a request is needed, the outcome.

    The command line talks to IMDS with the standard-library default driver
    (:class:`ec2imds._drivers.default.DefaultDriver`: the library's exchange, token flow
    and race over a minimal HTTP/1.1 client), never importing httpx; the models (pydantic)
    are imported only when a value needs more than a leaf parser, and then while the
    crawl runs.
    """

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.failed = False

    @contextmanager
    def settings(self) -> Iterator[Settings]:
        """The run's settings: from the options, the ``AWS_*`` environment and the AWS
        config file; with ``--simulate``, the embedded simulator's endpoint alone (it
        runs until the block ends)."""
        from ec2imds.settings import Settings

        args = self.args
        if args.simulate:
            from ec2imds.simulator import IMDSSimulator
            from ec2imds.simulator.cli import schedule_events

            # The simulator is the only endpoint: the AWS_* settings that would send the
            # requests elsewhere or refuse them (AWS_EC2_METADATA_DISABLED, set on many
            # laptops to keep the SDKs off IMDS) are ignored, valid or not.
            ignored = sorted(n for n in os.environ if n.startswith(_AWS_IMDS_VARIABLES))
            if ignored:
                log.info("--simulate: ignoring %s", ", ".join(ignored))
            with IMDSSimulator(_simulated_tree(args)) as sim:
                schedule_events(sim, args)
                print(f"{PROG}: querying the embedded IMDS simulator at {sim.url}", file=sys.stderr)
                yield Settings.resolve(endpoints=[sim.endpoint], env=_NO_SETTINGS)
            return
        yield Settings.resolve(
            endpoints=args.imds, endpoint_mode=args.endpoint_mode, profile=args.profile
        )

    @contextmanager
    def driver(self) -> Iterator[DefaultDriver]:
        from ec2imds._drivers.default import DefaultDriver
        from ec2imds.tokens import FileTokenStore, MemoryTokenStore

        args = self.args
        store = MemoryTokenStore() if args.simulate else FileTokenStore(args.token_dir)
        with self.settings() as settings, DefaultDriver(settings, store) as d, _one_run(d):
            yield d

    def crawl(
        self, walk: Walk, failures: Failures | None, *, models: bool = True
    ) -> RawNode | None:
        """Run ``walk`` with ``concurrency`` requests in flight; meanwhile, on this thread,
        import the models and build their validators (CPU work the network wait hides),
        unless ``models`` is False (values dumped by :mod:`ec2imds._plain` need none)."""
        import concurrent.futures

        from ec2imds._flow import IO, run
        from ec2imds.crawl import walk_flow

        with (
            self.driver() as driver,
            concurrent.futures.ThreadPoolExecutor(driver.settings.concurrency) as pool,
            concurrent.futures.ThreadPoolExecutor(1) as walker,
        ):
            flow = walk_flow(walk, failures)
            done = walker.submit(run, flow, IO(driver.get, pool=pool))
            if models:
                _category_json.prepare_models()
            return done.result()

    def values(
        self, paths: list[str], failures: Failures | None, *, listed: bool = False
    ) -> dict[str, Any]:
        """Categories' JSON values (see :meth:`ec2imds.client.IMDS.values`). Credentials'
        secrets are masked when ``listed``, unless ``--show-secrets``.

        ``listed`` (``-a``, ``-E``): walk the listings towards the categories, so one that
        its parent does not list is ``null`` and never requested. Otherwise (categories
        named on the command line) each is asked for directly. When every category is a
        simple leaf and none is listed, they are read one after the other and parsed by
        the models' own leaf parsers without importing pydantic: most of a single-value
        call's time is start-up. Otherwise one concurrent crawl, then one validation of
        them all, without pydantic too when :mod:`ec2imds._plain` can vouch for every
        value (the models decide, and name the error, otherwise).
        """
        from ec2imds.errors import PATH_ERRORS, collect, hand_over

        simple = all(_category_json.is_simple(p) for p in paths)
        if listed or not simple:
            collected: Failures = {}
            walk = _category_json.category_walk(paths, listed=listed)
            raw = self.crawl(walk, collected, models=False)
            reveal = not listed or self.args.show_secrets
            out = _category_json.category_values(paths, raw, collected, reveal_secrets=reveal)
            hand_over(collected, failures)
            return out
        out = {}
        with self.driver() as driver:
            for path in paths:
                try:
                    out[path] = _category_json.leaf_to_json(path, driver.get(path))
                except PATH_ERRORS as exc:
                    collect(failures, path, exc)
        return out

    def error(self, message: object) -> None:
        self.failed = True
        print(f"{PROG}: {message}", file=sys.stderr)


class RuntimeFailure(Exception):
    """A run that cannot go on (exit 1): its message, one line, is all that is said."""


def _simulated_tree(args: argparse.Namespace) -> dict[str, Node] | None:
    """``--simulate-tree FILE``'s tree, once the models accept its values (each failing
    path named on stderr), unless ``--allow-invalid-tree``; None: the built-in instance."""
    from ec2imds.simulator.cli import InvalidTree, tree_to_serve

    file = args.simulate_tree
    if file is None:
        return None
    try:
        return tree_to_serve(file, allow_invalid=args.allow_invalid_tree)
    except InvalidTree as exc:
        for error in exc.errors:
            print(f"{PROG}: {_printable(file)}: {error}", file=sys.stderr)
        raise RuntimeFailure(f"--simulate-tree {_printable(str(exc))}") from None
    except OSError as exc:
        raise RuntimeFailure(
            f"--simulate-tree {_printable(file)!r}: cannot read it: {exc.strerror or exc}"
        ) from None
    except ValueError as exc:  # TreeError: not JSON, not a tree; the message names the file
        raise RuntimeFailure(f"--simulate-tree {_printable(str(exc))}") from None


@contextmanager
def _one_run(driver: DefaultDriver) -> Iterator[None]:
    """A run's driver: a failed token PUT fails the rest of the run at once, per
    endpoint (one timeout, not one per category); with ``-v``, what the driver did, one
    line each, when it is done (failed or not)."""
    driver.remember_put_failures()
    try:
        yield
    finally:
        for line in driver.summary():
            log.info("%s", line)


def _write_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent="\t", ensure_ascii=False)
    sys.stdout.write("\n")


def _group(text: str) -> list[str]:
    """The categories under a directory of the catalog that is not itself a category
    (``meta-data/placement``, trailing slash accepted): what ``-E 'DIR/.*'`` selects."""
    name = text.strip().strip("/")
    if not name or "=" in name or _category_json.resolve_path(name) is not None:
        return []
    return [c for c in CATEGORIES if c.startswith(name + "/")]


def _requested(texts: list[str]) -> dict[str, str]:
    """Output key -> category for positional arguments. A 0.0.3 name (such as
    ``meta-data/instance-identity/document``) is printed under that name, as 0.0.3 printed
    it, so a script reading that key finds the value now fetched from ``dynamic/``."""
    out: dict[str, str] = {}
    for text in texts:
        group = _group(text)
        if group:
            out.update((c, c) for c in group)
            continue
        path = _category(text)
        name = text.split("=", 1)[0].strip().strip("/")
        out[name if name in _category_json.CATEGORY_ALIASES else path] = path
    return out


def _cmd_values(run: _Run, keys: dict[str, str], *, listed: bool = False) -> None:
    """Print ``{key: value}``; ``keys`` maps each output key to its category; ``listed``
    for a selection (``-a``, ``-E``) rather than categories named one by one."""

    failures: Failures = {}
    values = run.values(list(dict.fromkeys(keys.values())), failures, listed=listed)
    # Every category asked for appears, in order; failed ones are named on stderr.
    _write_json({k: values[p] for k, p in keys.items() if p in values})
    _report(run, failures)


def _report(run: _Run, failures: Failures) -> None:
    """One stderr line per failed path (the run then exits 1); an error recorded under a
    category and under the path inside it that failed is said once."""
    said: set[int] = set()
    for path, exc in failures.items():
        if id(exc) in said:
            continue
        said.add(id(exc))
        run.error(f"{path}: {exc}" if not str(exc).startswith(path) else exc)


def _raw_text(value: Any) -> str:
    """What ``--raw`` prints for a value: text as is, a list of scalars one a line, else JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
        return "\n".join(str(v) for v in value)
    if isinstance(value, (bool, int, float)):
        return json.dumps(value)
    return json.dumps(value, indent="\t", ensure_ascii=False)


def _cmd_raw(run: _Run, text: str) -> None:
    if _group(text):
        name = text.strip().strip("/")
        raise UsageError(
            f"--raw {text!r}: a directory of categories, not one value:"
            f" use ec2imds {name} (or -E '{name}/.*')"
        )
    path = _category(text)
    value = run.values([path], None)[path]
    if value is None:
        run.error(f"{path}: absent on this instance (404)")
        return
    sys.stdout.write(_raw_text(value) + "\n")


def _stdout_is_tty() -> bool:
    try:
        return os.isatty(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):
        return False


def _cmd_user_data(run: _Run) -> None:
    if _stdout_is_tty():
        raise UsageError("refusing to write user data to a terminal: redirect it (-U > FILE)")
    with run.driver() as driver:
        data = driver.get("user-data")
    if data is None:
        print(f"{PROG}: this instance has no user data", file=sys.stderr)
        return
    if run.args.decode:
        data = _decoded_user_data(data)
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


def _decoded_user_data(data: bytes) -> bytes:
    """``-U --decode``: one document as its bytes (gzip undone); the parts of a MIME
    multipart document as a JSON list (``content_type``, ``filename``, ``gzipped``, and
    ``payload`` as text, or ``payload_base64`` when it is not UTF-8)."""
    import base64

    from ec2imds.userdata import decode_user_data

    decoded = decode_user_data(data)
    if not decoded.multipart:
        return decoded.parts[0].payload
    parts: list[dict[str, object]] = []
    for part in decoded.parts:
        entry: dict[str, object] = {
            "content_type": part.content_type,
            "filename": part.filename,
            "gzipped": part.gzipped,
        }
        try:
            entry["payload"] = part.payload.decode("utf-8")
        except UnicodeDecodeError:
            entry["payload_base64"] = base64.b64encode(part.payload).decode("ascii")
        parts.append(entry)
    return (json.dumps(parts, indent="\t", ensure_ascii=False) + "\n").encode("utf-8")


def _cmd_tree(run: _Run) -> None:
    """The nested tree; a category that fails (fetch or validation) is named on stderr and
    left out, and everything else is printed (exit 1)."""
    from ec2imds.crawl import Walk
    from ec2imds.errors import PATH_ERRORS
    from ec2imds.models import InstanceMetadata
    from ec2imds.models._base import dump

    failures: Failures = {}
    raw = run.crawl(Walk("", seed=list(_category_json.ROOTS)), failures)
    try:
        tree = _category_json.validate_tree(InstanceMetadata, raw, path="", failures=failures)
        out = dump(tree, reveal_secrets=run.args.show_secrets)
    except PATH_ERRORS as exc:  # a value the models require failed: each category alone
        if not any(exc is known for known in failures.values()):
            failures[exc.path] = exc
        out = _category_json.tree_json(raw, failures, reveal_secrets=run.args.show_secrets)
    _write_json(out)
    _report(run, failures)


def _cmd_schema(text: str) -> None:
    from ec2imds import schema

    try:
        name = schema.schema_name(text)
    except ValueError as exc:
        raise UsageError(f"--schema {_printable(str(exc))}") from None
    json.dump(schema.schemas()[f"{name}.json"], sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def _read_dump(file: str) -> tuple[object, str | None]:
    """A --validate FILE's JSON (``-``: stdin), or why it has none, in words."""
    from ec2imds import schema

    try:
        if file == "-":
            stdin = getattr(sys.stdin, "buffer", None)  # None: replaced by a text stream
            text = sys.stdin.read().encode("utf-8") if stdin is None else stdin.read()
        else:
            with open(file, "rb") as f:
                text = f.read()
    except OSError as exc:
        return None, f"cannot read it: {exc.strerror or exc}"
    except ValueError as exc:  # a NUL in the name
        return None, f"cannot read it: {exc}"
    if not text.strip():
        return None, schema.EMPTY_FILE
    try:
        return json.loads(text), None
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, f"not JSON: {exc}"


def _cmd_validate(run: _Run, files: list[str], *, strict: bool) -> None:
    """Each file's errors on stdout, one line each (``FILE: POINTER: message``, as mypy and
    ruff write theirs), then a summary line; unknown keys are warnings on stderr (errors
    with ``--strict``); one stderr line when a file is invalid (exit 1)."""
    from ec2imds import schema

    if not files:
        raise UsageError("--validate needs one or more FILE arguments ('-': stdin)")
    if files.count("-") > 1:
        raise UsageError("--validate: '-' (stdin) given more than once")
    total = 0
    invalid = 0
    for name in files:
        data, unreadable = _read_dump(name)
        file = _printable(name)
        if unreadable is not None:
            errors = [schema.DumpError("", unreadable)]
        else:
            errors = schema.validate_dump(data, strict=strict)
            if not strict and not schema.is_flat_dump(data):
                for warning in schema.unknown_keys(data):
                    print(f"{PROG}: {file}: warning: {warning}", file=sys.stderr)
        for error in errors:
            print(f"{file}: {error}")
        if errors:
            total += len(errors)
            invalid += 1
        else:
            print(f"{file}: valid")
    if total:
        print(f"{total} error(s) in {invalid} of {len(files)} file(s)")
        run.error(f"--validate: {invalid} of {len(files)} file(s) invalid")
    else:
        print(f"no errors in {len(files)} file(s)")


_SIGNATURE_NAMES = {"signature": "the RSA signature at dynamic/instance-identity/signature"}


def _cmd_verify_identity(run: _Run) -> None:
    from ec2imds.identity import CertificateArg, load_certificate, verify_served

    args = run.args
    certificate: CertificateArg | None = args.certificate
    if args.certificate is not None:
        load_certificate(args.certificate, kind=args.signature or "rsa2048")  # usage error
    elif args.simulate:
        # The simulator signs with its TEST keys: verify with their certificates.
        from ec2imds.simulator.identity import certificates

        certificate = certificates()
    with run.driver() as driver:
        result = verify_served(driver.get, kind=args.signature, certificate=certificate)
    cert = result.certificate
    which = f"AWS's certificate for {cert.label}" if cert.source == "aws" else cert.label
    # "the signature signature" would read oddly: that kind is named by its path.
    kind = _SIGNATURE_NAMES.get(result.kind, f"the {result.kind} signature")
    log.info("verified by %s with %s (SHA-256 %s)", kind, which, cert.sha256)
    _write_json(json.loads(result.raw))


def _cmd_doctor(run: _Run) -> None:
    """The checks of :mod:`ec2imds.doctor`, a line each (or one JSON document), then the
    verdict and the fixes; exit 1 when a problem stops IMDS."""
    from ec2imds.doctor import diagnose

    args = run.args
    with run.settings() as settings:
        diagnosis = diagnose(settings, env=os.environ)
    if args.json:
        _write_json(diagnosis.to_json())
    else:
        _print_lines(diagnosis.lines())
    run.failed = not diagnosis.works


def _watch_categories(texts: list[str]) -> list[str]:
    from ec2imds.watch import EVENT_CATEGORIES

    for text in texts:
        if text not in EVENT_CATEGORIES:
            import difflib

            close = difflib.get_close_matches(text.strip("/").split("/")[-1], EVENT_CATEGORIES, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise UsageError(
                f"--watch {text!r}: unknown category ({hint}one of: {', '.join(EVENT_CATEGORIES)})"
            )
    return texts


def _interval(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(f"--interval {text!r}: not a positive number of seconds")
    return seconds


def _exec_argv(text: str | None) -> list[str] | None:
    """``--exec CMD`` split as a shell would (quotes, backslashes), but never run by a
    shell: no expansion, no pipes, nothing an event's content could inject into."""
    if text is None:
        return None
    import shlex
    import shutil

    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"--exec {text!r}: {exc}") from None
    if not argv:
        raise UsageError("--exec: an empty command")
    # A typo in the drain command must show now, not when the interruption comes.
    if shutil.which(argv[0]) is None:
        raise UsageError(f"--exec {text!r}: {argv[0]!r}: command not found or not executable")
    return argv


def _run_exec(argv: list[str], line: str) -> str | None:
    """Run ``argv`` with ``line`` on its stdin and its stdout on our stderr (ours is the
    event stream); the failure, or None."""
    import shlex
    import subprocess

    sys.stderr.flush()
    try:
        out: int | None = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        out = None
    try:
        done = subprocess.run(  # noqa: S603 - the user's own command, no shell
            argv, input=(line + "\n").encode(), stdout=out, check=False
        )
    except OSError as exc:
        return f"--exec {shlex.join(argv)}: {exc.strerror or exc}"
    if done.returncode < 0:
        return f"--exec {shlex.join(argv)}: killed by signal {-done.returncode}"
    if done.returncode:
        return f"--exec {shlex.join(argv)}: exit status {done.returncode}"
    return None


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (systemd, docker stop) ends a watch as Ctrl-C does."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _cmd_watch(run: _Run) -> None:
    """One JSON line per event on stdout, flushed; ``--exec`` runs per event; ``--once``
    stops after the first. SIGINT and SIGTERM end it with status 0."""
    from ec2imds.errors import IMDSConfigError, IMDSError
    from ec2imds.watch import EventCategory, watch_events

    args = run.args
    categories = cast("list[EventCategory]", _watch_categories(args.categories))
    interval = _interval(args.interval)
    argv = _exec_argv(args.exec_cmd)
    with _sigterm_as_interrupt():
        try:
            with run.driver() as driver:
                for event in watch_events(driver.get, *categories, interval=interval):
                    line = event.to_json()
                    sys.stdout.write(line + "\n")
                    sys.stdout.flush()
                    failure = None if argv is None else _run_exec(argv, line)
                    if failure is not None:
                        print(f"{PROG}: {failure}", file=sys.stderr, flush=True)
                    if args.once:
                        run.failed = failure is not None
                        return
        except KeyboardInterrupt:
            return
        except IMDSConfigError:
            raise
        except IMDSError as exc:
            run.error("; ".join([str(exc), *getattr(exc, "__notes__", ())]))


@contextmanager
def _logging_to_stderr(verbose: int) -> Iterator[None]:
    """Show ec2imds's log on stderr for this invocation (warnings; -v info; -vv requests).

    Without -v the handler is set up only if a warning is logged (:mod:`ec2imds._log`):
    a run that logs nothing never imports :mod:`logging`."""
    undo: list[Callable[[], None]] = []

    def setup(real: logging.Logger) -> None:
        import logging

        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
        saved = real.level, real.propagate
        real.addHandler(handler)
        real.setLevel(
            logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
        )
        real.propagate = False

        def restore() -> None:
            real.removeHandler(handler)
            real.setLevel(saved[0])
            real.propagate = saved[1]

        undo.append(restore)

    if verbose or log.used:
        setup(log.real)
    else:
        log.on_first_use = setup
    try:
        yield
    finally:
        log.on_first_use = None
        for restore in undo:
            restore()


class _Command(NamedTuple):
    """One command of the command line: its flag, what it does, what goes with it."""

    flag: str
    run: Callable[[_Run], None]
    #: It takes CATEGORY arguments.
    categories: bool = False
    #: ``--show-secrets`` applies to it.
    secrets: bool = False


def _cmd_all(run: _Run) -> None:
    _cmd_values(run, {c: c for c in CATEGORIES}, listed=True)


def _cmd_exec_re(run: _Run) -> None:
    chosen = _matching(_compile(run.args.exec_re, "-E"))
    _cmd_values(run, {c: c for c in chosen}, listed=True)


#: The commands, by argparse dest, in the order a conflict names them; ``categories`` is
#: the command of CATEGORY arguments alone. The one table of the command line.
_COMMANDS: dict[str, _Command] = {
    "all": _Command("-a", _cmd_all, secrets=True),
    "exec_re": _Command("-E", _cmd_exec_re, secrets=True),
    "list_all": _Command("-L", lambda run: print("\n".join(CATEGORIES))),
    "list_re": _Command(
        "-l", lambda run: _print_lines(_matching(_compile(run.args.list_re, "-l")))
    ),
    "user_data": _Command("-U", _cmd_user_data),
    "raw": _Command("--raw", lambda run: _cmd_raw(run, run.args.raw), secrets=True),
    "tree": _Command("--tree", _cmd_tree, secrets=True),
    "schema": _Command("--schema", lambda run: _cmd_schema(run.args.schema)),
    "validate": _Command(
        "--validate",
        lambda run: _cmd_validate(run, run.args.categories, strict=run.args.strict),
        categories=True,
    ),
    "watch": _Command("--watch", _cmd_watch, categories=True),
    "verify_identity": _Command("--verify-identity", _cmd_verify_identity),
    "doctor": _Command("--doctor", lambda run: _cmd_doctor(run)),
    "categories": _Command(
        "CATEGORY",
        lambda run: _cmd_values(run, _requested(run.args.categories)),
        categories=True,
        secrets=True,
    ),
}


#: The options that belong to one command: (argparse dest, flag, the command's dest), in
#: the order they are checked; any other command refuses them.
_OWNED_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("exec_cmd", "--exec", "watch"),
    ("once", "--once", "watch"),
    ("interval", "--interval", "watch"),
    ("signature", "--signature", "verify_identity"),
    ("certificate", "--certificate", "verify_identity"),
    ("strict", "--strict", "validate"),
    ("decode", "--decode", "user_data"),
    ("json", "--json", "doctor"),
)


def _given(args: argparse.Namespace, dest: str) -> bool:
    return getattr(args, dest) not in (None, False)


def _check_simulate_options(args: argparse.Namespace, parser: _Parser) -> None:
    """The simulate options go with --simulate; --allow-invalid-tree with --simulate-tree."""
    if args.allow_invalid_tree and args.simulate_tree is None:
        raise UsageError("--allow-invalid-tree goes with --simulate-tree FILE")
    if args.simulate:
        return
    for action in parser.simulate_options:
        if getattr(args, action.dest) != action.default:
            raise UsageError(f"{action.option_strings[0]} goes with --simulate")


def _dispatch(args: argparse.Namespace, parser: _Parser) -> int:
    if args.help:
        parser.print_help(sys.stdout)
        return EXIT_OK
    if args.version:
        print(f"Version: {__version__}\nIMDS version: {IMDS_API_VERSION}")
        return EXIT_OK
    chosen = [dest for dest in _COMMANDS if dest != "categories" and _given(args, dest)]
    if len(chosen) > 1:
        flags = ", ".join(_COMMANDS[c].flag for c in chosen)
        raise UsageError(f"conflicting commands: {flags} (give one)")
    name = chosen[0] if chosen else ("categories" if args.categories else "all")
    command = _COMMANDS[name]
    if args.categories and not command.categories:
        raise UsageError(f"{command.flag} takes no category arguments")
    if args.show_secrets and not command.secrets:
        raise UsageError(f"--show-secrets does not go with {command.flag}")
    for dest, flag, owner in _OWNED_OPTIONS:
        if owner != name and _given(args, dest):
            raise UsageError(f"{flag} goes with {_COMMANDS[owner].flag}")
    _check_simulate_options(args, parser)
    if args.imds is not None:
        from ec2imds.endpoints import mk_endpoint_list_from_str

        mk_endpoint_list_from_str(args.imds)  # a usage error if malformed
    if args.endpoint_mode is not None and args.endpoint_mode.strip().lower() not in (
        "ipv4",
        "ipv6",
    ):
        raise UsageError(f"--endpoint-mode {args.endpoint_mode!r}: expected IPv4 or IPv6")
    run = _Run(args)
    command.run(run)
    return EXIT_RUNTIME if run.failed else EXIT_OK


def _print_lines(lines: list[str]) -> None:
    if lines:
        print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see ``ec2imds --help``)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        with _logging_to_stderr(args.verbose):
            return _dispatch(args, parser)
    except UsageError as exc:
        print(f"{PROG}: {exc}\nRun '{PROG} -h' for help.", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`ec2imds | head`): not an error of ours. Point stdout at
        # /dev/null so the interpreter's final flush does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        return _runtime_error(exc)


def _runtime_error(exc: Exception) -> int:
    from ec2imds.errors import IMDSConfigError, IMDSError

    if isinstance(exc, IMDSConfigError):
        print(f"{PROG}: {exc}\nRun '{PROG} -h' for help.", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, (IMDSError, RuntimeFailure)):
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    log.debug("internal error", exc_info=exc)
    print(f"{PROG}: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    return EXIT_RUNTIME


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
