"""The lesson notebooks: stored without outputs, in lesson order, each with exercises; and what a
notebook kernel shows for our progress bars. (nbmake executes every notebook: see ../conftest.py.)"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
LESSONS = [
    "01_chain_rule_one_neuron",
    "02_linear_regression",
    "03_losses",
    "04_optimizers",
    "05_activations",
    "06_vanishing_gradients_and_dying_relu",
    "07_gradient_checking",
    "08_compiled_path",
]


def test_one_notebook_per_lesson_in_order():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == LESSONS


@pytest.mark.parametrize("name", LESSONS)
def test_stored_without_outputs_and_with_exercises(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)
    markdown = [c.source for c in nb.cells if c.cell_type == "markdown"]
    assert markdown[0].startswith(f"# Lesson {int(name[:2])}: ")
    assert any("## Exercises" in m for m in markdown)


def test_progress_in_a_notebook_kernel_gives_no_ipywidgets_warning(tmp_path):
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    from nbclient import NotebookClient
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_code_cell(
                "import warnings\n"
                "warnings.simplefilter('always')\n"
                "from micrograd.demos._common import progress\n"
                "bar = progress(range(3), 'steps', 3)\n"
                "assert [i for i in bar] == [0, 1, 2]\n"
                "print('done')"
            )
        ]
    )
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs)
    assert "done" in text and not [o for o in outputs if o.output_type == "error"]
    assert "IProgress" not in text and "ipywidgets" not in text


def code_of(name: str) -> list[str]:
    return [c.source for c in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells if c.cell_type == "code"]


def test_no_notebook_syncs_what_needs_no_sync():
    """The README's rule: a compiled model computes with the model's Values; there is nothing to sync."""
    for name in LESSONS:
        assert not [c for c in code_of(name) if "sync_from_model" in c or "sync_to_model" in c], name


def test_lesson_1_shows_the_stepper_inline():
    """A cell ends with backprop_html(...): its result (the page) is what the cell shows, inline."""
    assert any(c.strip().splitlines()[-1].startswith("backprop_html(o, ") for c in code_of("01_chain_rule_one_neuron"))


def test_lesson_8_exercise_resets_the_weights_and_says_what_it_compares():
    nb = nbformat.read(NOTEBOOKS / "08_compiled_path.ipynb", as_version=4)
    (exercises,) = [c.source for c in nb.cells if c.cell_type == "markdown" and "## Exercises" in c.source]
    first = exercises.split("\n1. ", 1)[1].split("\n2. ", 1)[0]
    assert "model.load_state_dict(start)" in first and "np.mean((Z > 0) == (Z_new > 0))" in first


def test_readme_lessons_run_demos_that_exist_and_link_the_notebooks():
    """The README's lesson table: one row per notebook, in order, each naming demos that exist; lessons 3
    and 4 run the demos that teach them, and their notebooks use those demos."""
    import re

    from micrograd.demos import DEMOS

    readme = (NOTEBOOKS.parent / "README.md").read_text()
    rows = re.findall(r"^\| (\d) \| ([^|]+) \| ([^|]+) \| \[(\d\d)\]\(notebooks/([\w.]+)\) \|$", readme, re.M)
    assert [r[4] for r in rows] == [f"{name}.ipynb" for name in LESSONS]
    for number, _, run, link, _ in rows:
        demos = re.findall(r"`demo (\w+)`", run)
        assert demos and set(demos) <= set(DEMOS) and link == f"{int(number):02d}", run
    assert re.findall(r"`demo (\w+)`", rows[2][2]) == ["losses"]
    assert re.findall(r"`demo (\w+)`", rows[3][2]) == ["optimizers"]
    assert any("micrograd.demos import losses" in c for c in code_of("03_losses"))
    assert any("micrograd.demos import optimizers" in c for c in code_of("04_optimizers"))
