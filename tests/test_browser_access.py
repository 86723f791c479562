

def test_the_wheel_carries_the_page_and_the_assets():
    import fnmatch
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["api"]
    api = ROOT / "api"
    files = [p.relative_to(api).as_posix() for p in [*(api / "static" / "graphiql").iterdir(),
                                                      api / "templates" / "graphiql.html"]]
    assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []
