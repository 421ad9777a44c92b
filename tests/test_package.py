import agent


def test_the_package_has_a_version() -> None:
    assert agent.__version__
