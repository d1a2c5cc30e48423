from training.utils.options import TRAINING_DIR, load_options


def test_base_is_deep_updated(tmp_path):
    (tmp_path / "parent.yml").write_text("a: 1\nnest: {x: 1, y: 2}\nlist: [1, 2]\n")
    (tmp_path / "child.yml").write_text("base: parent.yml\nnest: {y: 3}\nlist: [4]\n")
    assert load_options(tmp_path / "child.yml") == {"a": 1, "nest": {"x": 1, "y": 3}, "list": [4]}


def test_base_chains(tmp_path):
    (tmp_path / "a.yml").write_text("k: a\nonly_a: 1\n")
    (tmp_path / "b.yml").write_text("base: a.yml\nk: b\n")
    (tmp_path / "c.yml").write_text("base: b.yml\nonly_c: 1\n")
    assert load_options(tmp_path / "c.yml") == {"k": "b", "only_a": 1, "only_c": 1}


def test_shipped_options_name_their_preset():
    # options/ holds the recipes of the shipped models: each loads, and its name is its preset's
    # (scripts/ship_model.sh checks the same before exporting).
    files = sorted((TRAINING_DIR / "options").glob("*.yml"))
    assert [f.stem for f in files] == ["best", "fast"]
    for f in files:
        assert load_options(f)["name"] == f.stem


def test_int8_section_is_the_shipped_calibration():
    # scripts/ship_int8.sh exports with the options' int8 section and train.py --qat trains through it:
    # it must be the calibration the shipped int8 model's manifest records.
    import json
    for preset in ("fast", "best"):
        int8 = load_options(TRAINING_DIR / "options" / f"{preset}.yml")["int8"]
        shipped = json.loads((TRAINING_DIR.parent / "models" / f"{preset}.json").read_text())["quantization"]
        assert {k: shipped[k] for k in int8} == int8, preset
