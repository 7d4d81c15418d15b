"""Progress bars: tqdm when installed and wanted, else a line every tenth of the epoch."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress"]


class Progress:
    """``with Progress(total, desc) as bar: bar.update(n, loss=..., acc=...)``."""

    def __init__(self, total: int, desc: str, enabled: bool = True) -> None:
        self.total = total
        self.desc = desc
        self.done = 0
        self._bar = None
        self._next_line = 0
        if enabled:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=total, desc=desc, unit="batch", dynamic_ncols=True)
        self.enabled = enabled

    def update(self, n: int = 1, **stats: Any) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if stats:
                self._bar.set_postfix(stats, refresh=False)
            return
        if self.enabled and self.done >= self._next_line:
            shown = " ".join(f"{k}={v}" for k, v in stats.items())
            print(f"{self.desc} {self.done}/{self.total} {shown}", file=sys.stderr, flush=True)
            self._next_line = self.done + max(self.total // 10, 1)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()
