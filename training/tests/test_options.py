from training.utils.options import load_options


def test_base_is_deep_updated(tmp_path):
    (tmp_path / "parent.yml").write_text("a: 1\nnest: {x: 1, y: 2}\nlist: [1, 2]\n")
    (tmp_path / "child.yml").write_text("base: parent.yml\nnest: {y: 3}\nlist: [4]\n")
    assert load_options(tmp_path / "child.yml") == {"a": 1, "nest": {"x": 1, "y": 3}, "list": [4]}


def test_base_chains(tmp_path):
    (tmp_path / "a.yml").write_text("k: a\nonly_a: 1\n")
    (tmp_path / "b.yml").write_text("base: a.yml\nk: b\n")
    (tmp_path / "c.yml").write_text("base: b.yml\nonly_c: 1\n")
    assert load_options(tmp_path / "c.yml") == {"k": "b", "only_a": 1, "only_c": 1}


def test_variant_differs_only_where_it_says():
    base, low = load_options("options/best-tune.yml"), load_options("options/best-tune-low.yml")
    assert low["datasets"]["train"]["degrade"]["qf_power"] == 2.5
    assert base["datasets"]["train"]["degrade"]["qf_power"] == 1.5
    low["datasets"]["train"]["degrade"]["qf_power"] = 1.5
    low["datasets"]["train"]["num_workers"] = base["datasets"]["train"]["num_workers"]
    assert low == base
