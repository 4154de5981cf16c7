"""The CLI hook and `python -m assets_sync.emulator` serve the same emulator."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from assets_sync.emulator.cli import add_arguments, config_from


def parse(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_defaults_and_flags_map_to_config() -> None:
    args = parse()
    assert (args.host, args.port) == ("127.0.0.1", 8765)
    cfg = config_from(
        parse(
            "--assets",
            "123",
            "--seed",
            "4",
            "--projects",
            "2",
            "--token-mode",
            "keyset",
            "--api-key",
            "a",
            "--api-secret",
            "b",
            "--bearer-token",
            "t",
            "--latency-ms",
            "5",
            "--rate-limit-rps",
            "9",
            "--random-429-rate",
            "0.1",
            "--max-faults",
            "3",
        )
    )
    assert (cfg.assets, cfg.seed, cfg.projects, cfg.token_mode) == (123, 4, 2, "keyset")
    assert (cfg.api_key, cfg.api_secret, cfg.bearer_token) == ("a", "b", "t")
    assert cfg.faults.latency_ms == 5 and cfg.faults.rate_limit_rps == 9
    assert cfg.faults.random_429_rate == 0.1 and cfg.faults.max_faults == 3
    assert "secret" not in repr(cfg) and "b'" not in repr(cfg)
    assert cfg.mutate_while_paging is None
    cfg = config_from(parse("--mwp-updates", "2", "--mwp-max", "5", "--foreign-public-assets", "7"))
    assert cfg.mutate_while_paging is not None and cfg.mutate_while_paging.updates == 2
    assert cfg.mutate_while_paging.max_mutations == 5 and cfg.foreign_public_assets == 7


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.smoke
def test_python_dash_m_serves_until_interrupted() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assets_sync.emulator",
            "--port",
            str(port),
            "--assets",
            "500",
            "--api-key",
            "k",
            "--api-secret",
            "s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/v1/assets", auth=("k", "s"), timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
                time.sleep(0.1)
        assert r.status_code == 200 and len(r.json()["assets"]) == 50
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert f"http://127.0.0.1:{port}/v1" in out
