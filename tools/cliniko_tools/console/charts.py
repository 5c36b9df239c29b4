"""Small bar charts as inline SVG, drawn on the server: no script and no third-party asset. A chart is data (bars
with their box and a tooltip); the template turns it into `<svg>` elements, escaping every text."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 240
HEIGHT = 48


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Chart:
    label: str
    bars: list[Bar] = field(default_factory=list)
    peak: float = 0
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def empty(self) -> bool:
        return not any(b.height for b in self.bars)


def bar_chart(label: str, values: list[tuple[str, float]], *, width: int = WIDTH, height: int = HEIGHT) -> Chart:
    """One bar per (tooltip, value), left to right, scaled to the largest value; a zero is a hairline."""
    if not values:
        return Chart(label, [], 0, width, height)
    peak = max(v for _, v in values)
    step = width / len(values)
    bars = []
    for i, (title, value) in enumerate(values):
        h = 0.0 if peak <= 0 else max(1.0, (height - 2) * value / peak) if value > 0 else 0.0
        bars.append(Bar(round(i * step + 1, 2), round(height - h, 2), round(max(1.0, step - 2), 2), round(h, 2), title))
    return Chart(label, bars, peak, width, height)
