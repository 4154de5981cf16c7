"""`assets-sync emulator` / `python -m assets_sync.emulator`: serve in the foreground.

`add_arguments` and `run` are the hook the main CLI wires as a subcommand, so both entry
points accept exactly the same flags. Loopback is the default bind address: the emulator
accepts a fixed, printed credential and must not be exposed by accident.
"""

from __future__ import annotations

import argparse
import sys
import time

from .config import EmulatorConfig, Faults, MutateWhilePaging

_FAULT_RATES = (
    ("random_429_rate", "probability of a random 429 (Retry-After 0, 1 or absent)"),
    ("error_5xx_rate", "probability of a 500/502/503/504"),
    ("truncated_json_rate", "probability of a 200 whose JSON body is cut short"),
    ("invalid_json_rate", "probability of a 200 whose JSON body is malformed"),
    ("html_error_rate", "probability of a proxy HTML error page"),
    ("drop_connection_rate", "probability of closing the connection without an answer"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = EmulatorConfig()
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    parser.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    parser.add_argument("--assets", type=int, default=10_000, help="number of assets")
    parser.add_argument("--seed", type=int, default=0, help="data seed (same seed, same data)")
    parser.add_argument("--projects", type=int, default=1, help="number of projects (ownerId)")
    parser.add_argument("--token-mode", choices=("offset", "keyset"), default="offset")
    parser.add_argument("--api-key", default=d.api_key, help=f"Basic user (default {d.api_key})")
    parser.add_argument(
        "--api-secret", default=d.api_secret, help=f"Basic password (default {d.api_secret})"
    )
    parser.add_argument(
        "--bearer-token", default=d.bearer_token, help=f"Bearer token (default {d.bearer_token})"
    )
    parser.add_argument("--no-tie-groups", action="store_true", help="no bulk-import ties")
    parser.add_argument(
        "--foreign-public-assets", type=int, default=0,
        help="public assets of other organizations, listed only by privacy=public",
    )  # fmt: skip
    mwp = parser.add_argument_group("mutate while paging (off unless --mwp-updates/deletes)")
    mwp.add_argument("--mwp-updates", type=int, default=0, help="updates per paged request")
    mwp.add_argument("--mwp-deletes", type=int, default=0, help="deletes per paged request")
    mwp.add_argument("--mwp-every", type=int, default=1, help="every N token requests")
    mwp.add_argument("--mwp-max", type=int, default=100, help="budget of mutated assets")
    faults = parser.add_argument_group("faults (all off by default)")
    faults.add_argument("--latency-ms", type=float, default=0.0)
    faults.add_argument("--rate-limit-rps", type=float, default=None, help="token bucket rate")
    faults.add_argument("--rate-limit-burst", type=int, default=10)
    for name, text in _FAULT_RATES:
        faults.add_argument("--" + name.replace("_", "-"), type=float, default=0.0, help=text)
    faults.add_argument("--max-faults", type=int, default=None, help="stop faulting after N")
    faults.add_argument("--fault-seed", type=int, default=0)


def config_from(args: argparse.Namespace) -> EmulatorConfig:
    faults = Faults(
        latency_ms=args.latency_ms,
        rate_limit_rps=args.rate_limit_rps,
        rate_limit_burst=args.rate_limit_burst,
        max_faults=args.max_faults,
        seed=args.fault_seed,
        **{name: getattr(args, name) for name, _ in _FAULT_RATES},
    )
    mwp = None
    if args.mwp_updates or args.mwp_deletes:
        mwp = MutateWhilePaging(
            every_n_requests=args.mwp_every, updates=args.mwp_updates,
            deletes=args.mwp_deletes, max_mutations=args.mwp_max,
        )  # fmt: skip
    return EmulatorConfig(
        assets=args.assets, seed=args.seed, projects=args.projects, token_mode=args.token_mode,
        api_key=args.api_key, api_secret=args.api_secret, bearer_token=args.bearer_token,
        faults=faults, tie_groups=not args.no_tie_groups,
        foreign_public_assets=args.foreign_public_assets, mutate_while_paging=mwp,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Generate, bind, print how to reach it, serve until Ctrl-C. Returns the exit code."""
    try:
        cfg = config_from(args)
    except ValueError as exc:
        print(f"emulator: {exc}", file=sys.stderr)
        return 2
    from .server import Emulator  # NumPy: imported when serving, not to build a parser

    started = time.perf_counter()
    emu = Emulator(cfg, host=args.host, port=args.port)
    try:
        emu.bind()
    except OSError as exc:
        print(f"emulator: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(
        f"Scenario API emulator: {cfg.assets} assets (seed {cfg.seed}, {cfg.projects} project(s),"
        f" {cfg.token_mode} tokens) ready in {time.perf_counter() - started:.1f}s\n"
        f"  base URL   {emu.base_url}\n"
        f"  projects   {', '.join(emu.project_ids)}\n"
        f"  auth       Basic {cfg.api_key}:<api-secret> | Bearer <token> | public-auth-token\n"
        f"  admin      {emu.admin_url}/(info|stats|truth|ids|update|add|delete|faults)\n"
        f"  try        curl -u {cfg.api_key}:$SECRET '{emu.base_url}/assets?pageSize=2'\n"
        "Ctrl-C to stop.",
        flush=True,
    )
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        print("\nemulator stopped", file=sys.stderr)
    finally:
        emu.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assets_sync.emulator",
        description="Serve an offline emulator of Scenario's GET /v1/assets.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
