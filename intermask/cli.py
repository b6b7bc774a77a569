"""The thin front shared by the entry points: argv translation, Hydra start-up and user-facing errors."""
from __future__ import annotations

import difflib
import functools
import logging
import os
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

from .errors import UsageError, user_facing_errors

CONFIG_DIR = Path(os.environ.get("INTERMASK_CONFIGS", Path(__file__).resolve().parent.parent / "configs"))


def split_flags(argv: Sequence[str], flags: dict[str, str], repeatable: Sequence[str] = (),
                switches: dict[str, str] | None = None) -> tuple[dict[str, list[str]], list[str]]:
    """Pull ``--flag value`` / ``--flag=value`` pairs named in ``flags`` out of argv.

    Returns ({config key: [values]}, remaining argv). A non-repeatable flag given twice is an error.
    ``switches`` are value-less flags mapped to a config key set to true.
    """
    switches = switches or {}
    found: dict[str, list[str]] = {}
    rest: list[str] = []
    args = list(argv)
    i = 0
    while i < len(args):
        arg = args[i]
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in switches and not eq:
            found.setdefault(switches[name], []).append("true")
        elif name in flags:
            if not eq:
                if i + 1 >= len(args):
                    raise UsageError(f"{name} needs a value")
                i += 1
                value = args[i]
            key = flags[name]
            if key in found and name not in repeatable:
                raise UsageError(f"{name} given twice")
            found.setdefault(key, []).append(value)
        else:
            rest.append(arg)
        i += 1
    for arg in rest:
        name = arg.partition("=")[0]
        if name.startswith("--") and name not in HYDRA_FLAGS:
            near = difflib.get_close_matches(name, [*flags, *switches], n=2, cutoff=0.7)
            raise UsageError(f"unknown option {name}" + (f" (did you mean {' or '.join(near)}?)" if near else ""))
    return found, rest


def config_choices(group: str) -> list[str]:
    """The options of a config group: the names of ``configs/<group>/*.yaml``."""
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def quote(value: str) -> str:
    """A Hydra override value holding arbitrary text (commas, quotes, brackets, backslashes, ``${...}``) as one
    string that reads back unchanged.

    In a quoted override a backslash escapes only a quote, ``${`` or the closing quote, so only backslashes right
    before those are doubled; quotes and interpolations are escaped, so a prompt is never resolved as config.
    """
    escaped = re.sub(r"\\+(?='|\$\{)|\\+\Z", lambda match: 2 * match.group(0), value)
    escaped = escaped.replace("'", "\\'").replace("${", "\\${")
    return f"'{escaped}'"


def quote_list(values: Sequence[str]) -> str:
    return "[" + ",".join(quote(v) for v in values) + "]"


def run(config_name: str, task: Callable, argv: Sequence[str]) -> None:
    """Start Hydra on ``argv`` (already translated to overrides) with ``task(cfg)`` as the job."""
    import hydra

    @hydra.main(config_path=str(CONFIG_DIR), config_name=config_name, version_base="1.3")
    def _job(cfg):
        return guarded(task)(cfg)

    check_override_keys(config_name, argv)
    sys.argv = [sys.argv[0], *flags_first(argv)]
    _job()


def check_override_keys(config_name: str, argv: Sequence[str]) -> None:
    """A UsageError naming each ``key=value`` whose key the composed ``config_name`` lacks, with the keys it has that
    come closest, before Hydra starts: Hydra's own message for a misspelt key suggests adding it with ``+``, which
    would be accepted and then read by nothing. Other composition errors (a missing config group option) are left to
    Hydra's message, which lists the options; a multirun's sweeps are not checked."""
    tagged = _classify(argv)
    if any(arg in ("-m", "--multirun") for arg, kind in tagged if kind == "flag"):
        return
    overrides = [arg for arg, kind in tagged if kind == "override" and not arg.lstrip("+~").startswith("hydra")]
    unknown: list[str] = []
    while overrides:
        failed = _unknown_override(config_name, overrides)
        if failed is None:
            break
        unknown.append(failed)
        overrides = [arg for arg in overrides if arg.partition("=")[0] != failed]
    if unknown:
        keys = setting_keys(config_name, overrides)
        raise UsageError("; ".join(_unknown_key_message(key, keys) for key in unknown) +
                         " (every setting: add --cfg job to the command)")


def _unknown_override(config_name: str, overrides: list[str]) -> str | None:
    """The key of the override that composing ``config_name`` with ``overrides`` cannot set, or None."""
    from hydra.errors import ConfigCompositionException

    try:
        _compose(config_name, overrides)
    except ConfigCompositionException as error:
        found = re.match(r"Could not override '([^']+)'", str(error))
        if found and "not in struct" in str(error.__cause__ or ""):
            return found.group(1)
    return None


def _compose(config_name: str, overrides: Sequence[str]):
    """``config_name`` composed with ``overrides``, outside any Hydra job."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name, overrides=list(overrides))


def setting_keys(config_name: str, overrides: Sequence[str] = ()) -> list[str]:
    """Every leaf key of the composed ``config_name``, dotted (``sample.length``)."""
    from omegaconf import OmegaConf

    cfg = _compose(config_name, overrides)

    def leaves(node: dict, prefix: str) -> list[str]:
        return [path for key, value in node.items()
                for path in (leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"])]

    return leaves(OmegaConf.to_container(cfg, resolve=False), "")


def _unknown_key_message(key: str, keys: Sequence[str]) -> str:
    """``key`` is no setting; the settings ``keys`` that are spelt like it or end in its last name."""
    parent, _, leaf = key.rpartition(".")
    siblings = {other.rpartition(".")[2]: other for other in keys if other.rpartition(".")[0] == parent}
    near = [siblings[name] for name in difflib.get_close_matches(leaf, list(siblings), n=2, cutoff=0.7)]
    near += [other for other in keys if other.rpartition(".")[2] == leaf and other not in near]
    near = near or difflib.get_close_matches(key, keys, n=2, cutoff=0.8)
    return f"{key} is no setting of this command" + (f" (did you mean {' or '.join(near[:3])}?)" if near else "")


def guarded(task: Callable) -> Callable:
    """Report user mistakes (missing files, bad input, bad checkpoints) as one line instead of a traceback."""
    @functools.wraps(task)
    def wrapper(*args, **kwargs):
        try:
            return task(*args, **kwargs)
        except (*user_facing_errors(), UsageError) as error:
            if os.environ.get("INTERMASK_DEBUG"):
                raise
            print(f"error: {error}", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            if os.environ.get("INTERMASK_DEBUG"):
                raise
            # files are written whole or not at all, so what is on disk is the last complete checkpoint or output
            print("interrupted: nothing half-written is left; a training run resumes from its last checkpoint when "
                  "the same command is run again", file=sys.stderr)
            sys.exit(130)

    return wrapper


def front(main: Callable[[list[str]], None]) -> Callable[[], None]:
    """Wrap an entry point's argv translation so usage mistakes exit cleanly."""

    @functools.wraps(main)
    def wrapper() -> None:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        try:
            main(sys.argv[1:])
        except UsageError as error:
            print(f"error: {error}\nrun with --help for the options", file=sys.stderr)
            sys.exit(2)

    return wrapper


# Hydra's own flags that take the next argument as their value, and all its long ones
HYDRA_VALUE_FLAGS = {"--cfg", "-c", "--package", "-p", "--config-path", "-cp", "--config-name", "-cn",
                     "--config-dir", "-cd", "--experimental-rerun"}
HYDRA_FLAGS = {flag for flag in HYDRA_VALUE_FLAGS if flag.startswith("--")} | {
    "--help", "--hydra-help", "--version", "--resolve", "--run", "--multirun", "--shell-completion", "--info"}


def _classify(argv: Sequence[str]) -> list[tuple[str, str]]:
    """Tag each argument "flag" (a dash option, or the value a Hydra flag takes), "override" (key=value) or "word"."""
    tagged = []
    takes_value = False
    for arg in argv:
        if takes_value or arg.startswith("-"):
            tagged.append((arg, "flag"))
            takes_value = not takes_value and arg in HYDRA_VALUE_FLAGS
        else:
            tagged.append((arg, "override" if "=" in arg else "word"))
    return tagged


def positional(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """Split bare words (not overrides, not flags, not a Hydra flag's value) from the rest of argv."""
    tagged = _classify(argv)
    return [a for a, kind in tagged if kind == "word"], [a for a, kind in tagged if kind != "word"]


def flags_first(argv: Sequence[str]) -> list[str]:
    """Hydra's flags (with their values) before the overrides: its parser takes overrides as one trailing list."""
    tagged = _classify(argv)
    return [a for a, kind in tagged if kind == "flag"] + [a for a, kind in tagged if kind != "flag"]
