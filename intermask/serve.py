"""python -m intermask.serve [ckpt=PATH] [host=127.0.0.1] [port=7860] [device=auto] [key=value ...]

A local web app on one loaded model: type a caption, watch the two people, download the clip. Needs the
optional ``app`` extra (pip install -e '.[app]').
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from .cli import UsageError, front, positional, run

log = logging.getLogger("intermask.serve")

APP_PACKAGES = ("starlette", "uvicorn", "multipart")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def job(cfg) -> None:
    missing = [name for name in APP_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise UsageError("the web app needs the optional 'app' extra: pip install -e '.[app]' "
                         "(or pip install 'intermask[app]')")
    import uvicorn

    from .app.server import AppSettings, create_app
    from .loading import resolve
    from .precision import check_settings, resolve_device
    from .sampling import load_writable_model

    check_settings(cfg.sample, "sample")
    device = resolve_device(cfg.device)
    ckpt = resolve(cfg.ckpt, cfg.runs_root, cfg.data.name, "transformer",
                   how="No text-to-interaction model yet: run `make demo`, or pass ckpt=PATH")
    model = load_writable_model(ckpt, device)
    settings = AppSettings(out=Path(cfg.sample.out), sample=cfg.sample, checkpoint=str(ckpt),
                           typical_seconds=float(cfg.data.typical_seconds), device=device, **cfg.app)
    app = create_app(model, settings)
    host, port = str(cfg.host), int(cfg.port)
    if host not in LOCAL_HOSTS:
        log.warning("serving on %s, not only this machine: anyone who reaches port %d can generate with this model "
                    "and read every result in %s", host, port, settings.out)
    shown = f"[{host}]" if ":" in host else host
    log.info("InterMask app on http://%s:%d/ (model %s, results in %s); Ctrl+C stops it", shown, port, ckpt,
             settings.out)
    uvicorn.run(app, host=host, port=port, log_level="warning")


@front
def main(argv: list[str]) -> None:
    names, rest = positional(argv)
    if names:
        raise UsageError(f"unexpected argument(s) {names}; settings are key=value, e.g. port=8080")
    run("serve", job, rest)


if __name__ == "__main__":
    main()
