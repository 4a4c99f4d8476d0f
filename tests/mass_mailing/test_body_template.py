"""The mailing body is a sandboxed, autoescaped Jinja2 template."""
import pytest

from addons_mail.mass_mailing.body_template import BodyTemplate, check_body_template, recipient_fields
from kernel.errors import UserError

ATTACKS = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ recipient.__class__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ recipient.items.__self__ }}",
    "{% for c in ().__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
]


@pytest.mark.parametrize("source", ATTACKS)
def test_a_template_cannot_reach_python_internals(source):
    with pytest.raises(UserError) as caught:
        check_body_template(source)
    message = str(caught.value)
    assert "tries something a template may not do" in message
    assert "unsafe" in message
    assert "Traceback" not in message


def test_recipient_fields_are_rendered_and_html_escaped():
    template = BodyTemplate("<p>Hi {{ recipient.first_name }} of {{ recipient.company }}</p>")
    html = template.render(recipient_fields("Bob <script>", "bob@example.com", "A&B"), {"subject": "S"}, "u")
    assert html == "<p>Hi Bob of A&amp;B</p>"
    html = template.render(recipient_fields("<script>x", "bob@example.com", ""), {"subject": "S"}, "u")
    assert "<script>" not in html and "&lt;script&gt;x" in html


def test_an_unknown_field_is_refused_before_anything_is_sent():
    with pytest.raises(UserError, match="unknown field: .*has no attribute 'surname'"):
        check_body_template("Hi {{ recipient.surname }}")


def test_a_syntax_error_names_the_line():
    with pytest.raises(UserError, match="template error on line 2"):
        check_body_template("ok\n{% if %}")
