"""A natural greeting for a returning user: it names what they were doing, never how many
minutes or days went by, and there is none for a new user."""

from resume.policy import Mode


def greeting(mode: Mode, topic: str | None, open_loop: str | None, is_new: bool) -> str | None:
    if is_new:
        return None
    if mode is Mode.FULL_RESTORE:
        if topic:
            return f"Welcome back — shall we carry on with {topic}?"
        return "Welcome back — let's pick up where we left off."
    if mode is Mode.PRIMED:
        if open_loop:
            return (
                f"Welcome back! Last time this was still open: {open_loop.rstrip('.')}"
                f"{'' if open_loop.endswith('?') else '.'} "
                "Pick that up, or something new?"
            )
        if topic:
            return (
                f"Welcome back — last time we talked about {topic}. Pick that up, or something new?"
            )
        return "Welcome back! Want to continue where we left off, or start something new?"
    return "Good to see you again! What would you like to do today?"
