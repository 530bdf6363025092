"""micrograd/viz/svg.py: a drawing cut into items (the stepper page's big graphs), and dot's SVG nested.

Read back as XML, against the drawing they come from: every node once, inside its box, every edge
drawn once; nesting keeps every element, its id and its order.
"""

import re
import xml.etree.ElementTree as ET

import pytest

from micrograd.viz.dot import draw_dot, drawing
from micrograd.viz.examples import mlp_hinge, tanh_neuron
from micrograd.viz.svg import SVG_NS, drawing_items, nest_groups

G = f"{{{SVG_NS}}}g"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(f'<svg xmlns="{SVG_NS}">{markup}</svg>')


def test_items_hold_every_node_once_inside_its_box_and_every_edge():
    root = mlp_hinge(3)
    d = drawing(root, layout="fast")
    items = drawing_items(d.nodes, d.edges, "LR")
    x0, y0, w, h = items["view"]
    ids = [nid for *_, nid, _ in items["nodes"]]
    assert ids == list(d.nodes)  # every node once, in drawing order
    for bx0, by0, bx1, by1, nid, markup in items["nodes"]:
        g = parse(markup)[0]
        assert g.tag == G and g.get("id") == nid and g.get("class") == "node"
        x, y = map(float, d.nodes[nid]["pos"].rstrip("!").split(","))
        assert bx0 < x < bx1 and by0 < -y < by1  # y down
        assert x0 <= bx0 + 3 and bx1 - 3 <= x0 + w and y0 <= by0 + 3 and by1 - 3 <= y0 + h  # in the view
        texts = [t.text for t in g.iter(f"{{{SVG_NS}}}text")]
        if d.nodes[nid].get("shape") == "record":
            assert texts[-1].startswith("grad ") and texts[-2].startswith("data ")  # the grad last
    lines = sum(len(re.findall("M", parse(m)[0][0].get("d"))) for *_, m in items["edges"])
    heads = sum(len(re.findall("Z", parse(m)[0][1].get("d"))) for *_, m in items["edges"])
    assert lines == heads == len(d.edges)


def test_items_escape_labels():
    from micrograd.engine import Value

    a = Value(1.0, label="</text><script>x</script> & <b>")
    out = a * 2
    d = drawing(out, layout="fast")
    items = drawing_items(d.nodes, d.edges, "LR")
    texts = [t.text for *_, m in items["nodes"] for t in parse(m).iter(f"{{{SVG_NS}}}text")]
    assert "</text><script>x</script> & <b>" in texts


@pytest.mark.system
def test_nest_groups_keeps_every_element_in_order():
    from tests.system import require

    require("dot")
    svg = draw_dot(tanh_neuron(), svg_ids=True).pipe(format="svg").decode()
    svg = svg[svg.index("<svg") :]
    flat = ET.fromstring(svg)
    nested = ET.fromstring(nest_groups(svg, size=3))
    leaves = [e for e in flat.find(G) if e.tag == G]
    top = nested.find(G)
    assert [e.tag for e in top][:2] == [e.tag for e in flat.find(G)][:2]  # dot's title and background first
    groups = [e for e in top if e.tag == G]
    assert len(groups) <= 3

    def walk(g):
        for e in g:
            if e.tag == G and e.get("id") is None:
                yield from walk(e)
            else:
                yield e

    found = [e for g in groups for e in walk(g)] if groups[0].get("id") is None else groups
    assert [e.get("id") for e in found] == [e.get("id") for e in leaves]
    assert [ET.tostring(e) for e in found] == [ET.tostring(e) for e in leaves]


def test_nest_groups_refuses_a_size_below_two():
    with pytest.raises(ValueError, match="at least 2"):
        nest_groups('<svg xmlns="http://www.w3.org/2000/svg"><g/></svg>', size=1)
