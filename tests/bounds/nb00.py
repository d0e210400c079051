"""Honest bounds on notebook 00's figures."""


def check(fig: dict, profile: str) -> None:
    assert fig["matmul_gflops"] > 0.5, "a matrix multiply this slow means the measurement is broken"
    # the noise variance is 0.09: the fit can approach it but not beat it by much
    assert 0.05 < fig["fit_final_mse"] < (0.5 if profile == "smoke" else 0.12)
    assert abs(fig["fit_slope"] - 3.0) < (0.5 if profile == "smoke" else 0.1)
