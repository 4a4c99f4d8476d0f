"""The body of a mailing: a Jinja2 template rendered in a sandbox, once compiled, per recipient.

The sandbox (``ImmutableSandboxedEnvironment``) refuses attributes starting with ``_`` and the
internals of functions and classes, so ``{{ ''.__class__.__mro__ }}`` and friends fail; a template
only ever sees plain dicts of text (``recipient``, ``mailing``, ``unsubscribe_url``), never a record,
so it cannot call a method that writes. Undefined names are errors (``StrictUndefined``): a typo in a
field name stops the mailing before it is sent rather than mailing blanks.
"""
import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from kernel.errors import UserError

SAMPLE_RECIPIENT = {"name": "Ada Lovelace", "first_name": "Ada", "email": "ada@example.com", "company": "Example"}
TEMPLATE_FIELDS = ("recipient.name", "recipient.first_name", "recipient.email", "recipient.company",
                   "mailing.subject", "unsubscribe_url")

_environment = ImmutableSandboxedEnvironment(autoescape=True, undefined=jinja2.StrictUndefined)


class BodyTemplate:
    """A compiled mailing body; :meth:`render` fills in one recipient."""

    def __init__(self, source: str):
        try:
            self._template = _environment.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise UserError(f"The mailing body has a template error on line {exc.lineno}: {exc.message}.",
                            hint="Fix the body file and try again.") from None

    def render(self, recipient: dict, mailing: dict, unsubscribe_url: str) -> str:
        try:
            return self._template.render(recipient=recipient, mailing=mailing, unsubscribe_url=unsubscribe_url)
        except SecurityError as exc:
            raise UserError(f"The mailing body tries something a template may not do: {exc}",
                            hint="Use only the recipient fields: " + ", ".join(TEMPLATE_FIELDS) + ".") from None
        except jinja2.UndefinedError as exc:
            raise UserError(f"The mailing body uses an unknown field: {exc.message}.",
                            hint="Available: " + ", ".join(TEMPLATE_FIELDS) + ".") from None
        except jinja2.TemplateError as exc:
            raise UserError(f"The mailing body cannot be rendered: {exc}.") from None


def check_body_template(source: str, subject: str = "Subject") -> str:
    """Render ``source`` for a sample recipient; return the HTML or raise :class:`UserError`."""
    return BodyTemplate(source).render(SAMPLE_RECIPIENT, {"subject": subject}, "https://example.com/unsubscribe")


def recipient_fields(name: str | None, email: str | None, company: str | None) -> dict:
    """The fields a template sees for one recipient."""
    name = name or ""
    return {"name": name, "first_name": name.split(" ", 1)[0] if name else "", "email": email or "",
            "company": company or ""}
