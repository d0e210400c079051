"""Exercises of notebook 12 · Deployment and serving (plain Python, no torch)."""
from __future__ import annotations

import math

from labutils.exercises import Exercise, close_to

# 12.littles_law: 16 requests in flight, mean latency 64 ms -> throughput = L / W
_RPS = 16 / 0.064
# 12.cost_per_1k: 250 req/s on 2 cores at USD 0.04 per core-hour
_COST = 0.04 * 2 / 3600 / 250 * 1000
# 12.static_waste: a static batch of 4 generating 5, 20, 8, 3 tokens runs 20 steps in 4 slots
_WASTE = 4 * 20 - (5 + 20 + 8 + 3)


def _is_int_answer(expected: int, mistakes):
    base = close_to(float(expected), rel=1e-9, abs_tol=1e-9, mistakes=mistakes)

    def checker(answer):
        if isinstance(answer, bool):
            return "Expected a number of slot-steps, not True/False."
        return base(answer)
    return checker


EXERCISES = [
    Exercise(
        id="12.littles_law",
        question=("16 clients each keep one request in flight and the mean latency is 64 ms. By Little's law, "
                  "how many requests per second does the server complete?"),
        checker=close_to(_RPS, rel=1e-3, mistakes=[
            (lambda v: math.isclose(v, 16 * 0.064, rel_tol=1e-3), "Little's law is L = λ·W, so λ = L / W, not L·W."),
            (lambda v: math.isclose(v, 1 / 0.064, rel_tol=1e-3), "That is one client; 16 are in flight at once."),
            (lambda v: math.isclose(v, 16 / 64, rel_tol=1e-3), "Convert 64 ms to seconds first."),
        ]),
        hint="Little's law: requests in flight L = throughput λ × mean time in the system W.",
        solution=_RPS,
        solution_text="λ = L / W = 16 / 0.064 s = 250 requests/s.",
        wrong=[16 * 0.064, 1 / 0.064, 0.25, "fast"],
    ),
    Exercise(
        id="12.cost_per_1k",
        question=("A service sustains 250 requests/s on 2 cores at USD 0.04 per core-hour. "
                  "What do 1,000 requests cost, in USD?"),
        checker=close_to(_COST, rel=1e-2, mistakes=[
            (lambda v: math.isclose(v, _COST / 2, rel_tol=1e-2), "Both cores are paid for: multiply by 2."),
            (lambda v: math.isclose(v, _COST * 3600, rel_tol=1e-2), "The price is per hour: divide by 3,600 s."),
            (lambda v: math.isclose(v, _COST / 1000, rel_tol=1e-2), "That is one request; the question asks for 1,000."),
        ]),
        hint="Cost per second = price × cores / 3,600; requests per second = 250; scale to 1,000 requests.",
        solution=_COST,
        solution_text="0.04 × 2 / 3600 / 250 × 1000 ≈ USD 0.0000889 (S.cost_per_1k(250, 2, 0.04)).",
        wrong=[_COST / 2, _COST * 3600, _COST / 1000, 0.08],
    ),
    Exercise(
        id="12.static_waste",
        question=("A static batch of 4 requests generates 5, 20, 8 and 3 tokens. How many slot-steps are wasted "
                  "(a slot computing while its request is already finished)?"),
        checker=_is_int_answer(_WASTE, mistakes=[
            (lambda v: math.isclose(v, 80), "80 is all slot-steps; subtract the 36 useful ones."),
            (lambda v: math.isclose(v, 36), "36 are the useful slot-steps; the question asks for the wasted ones."),
            (lambda v: math.isclose(v, 4 * 20), "The batch runs 20 steps in 4 slots; subtract the useful tokens."),
        ]),
        hint="The batch runs as many steps as its longest request; every slot counts at every step.",
        solution=_WASTE,
        solution_text="4 slots × 20 steps = 80 slot-steps, 5 + 20 + 8 + 3 = 36 useful: 44 wasted (55 %).",
        wrong=[80, 36, 0, True],
    ),
]
