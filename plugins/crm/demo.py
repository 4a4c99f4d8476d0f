"""`juniper demo`: a guided tour of company email on a throwaway database."""
import click


@click.command("demo")
def demo():
    """Show a lead's email life in a temporary database, with a local SMTP peer."""
