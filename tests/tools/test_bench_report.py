"""bench/scale/report.py's ratios: each side's server CPU per request against the other's, and
what a read costs each side beyond the floor (the clinic read) measured in the same run."""

import pytest

from bench.scale.report import above_the_floor, ratios
from bench.scale.sizes import SCENARIOS, SIDES, Size
from bench.scale.wrk_driver import Measure

CPU_MS = {  # server CPU per request: the ceiling's floor is cheap, ours is not
    ("journey", "ours"): 4.0,
    ("journey", "ceiling"): 1.5,
    ("worklist", "ours"): 11.0,
    ("worklist", "ceiling"): 6.5,
    ("clinic", "ours"): 2.0,
    ("clinic", "ceiling"): 0.5,
}


def measured(sessions: int, cpu_ms: dict[tuple[str, str], float]) -> Size:
    size = Size(sessions=sessions, url=f"postgresql://postgres@127.0.0.1/bench_{sessions}")
    for scenario in SCENARIOS:
        for side in SIDES:
            requests = 1000 if side == "ours" else 2000
            size.results[(scenario, side)] = Measure(
                requests=requests,
                seconds=10.0,
                latency_us={4000.0: requests},
                server_cpu_s=cpu_ms[(scenario, side)] * requests / 1000,
            )
    return size


def test_above_the_floor_is_each_sides_cpu_less_its_clinic_read() -> None:
    size = measured(10_000, CPU_MS)
    assert above_the_floor(size, "journey") == (2.0, 1.0)
    assert above_the_floor(size, "worklist") == (9.0, 6.0)


def test_the_ratios_table_shows_cpu_and_the_work_above_the_floor() -> None:
    lines = ratios([measured(10_000, CPU_MS), measured(1_000_000, CPU_MS)])
    assert "| 10,000 | journey | 0.50x | 2.67x | 1.00x |" in lines
    assert "| 10,000 | clinic | 0.50x | 4.00x | 1.00x |" in lines
    assert "| 1,000,000 | journey | 2.00 ms | 1.00 ms | 2.00x |" in lines
    assert "| 1,000,000 | worklist | 9.00 ms | 6.00 ms | 1.50x |" in lines
    assert not any("| clinic | 0.00 ms" in line for line in lines)  # the floor is not above itself


@pytest.mark.parametrize(
    ("side", "cpu_ms", "row"),
    [
        ("ceiling", 0.4, "| 10,000 | journey | 2.00 ms | -0.10 ms | - |"),  # below its floor
        ("ceiling", 0.52, "| 10,000 | journey | 2.00 ms | 0.02 ms | - |"),  # a 100x from noise
        ("ours", 1.9, "| 10,000 | journey | -0.10 ms | 1.00 ms | - |"),
    ],
)
def test_a_read_barely_dearer_than_its_floor_has_no_ratio(
    side: str, cpu_ms: float, row: str
) -> None:
    noisy = {**CPU_MS, ("journey", side): cpu_ms}
    assert row in ratios([measured(10_000, noisy)])
