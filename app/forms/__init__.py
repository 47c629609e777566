"""書かない窓口 over video: forms filled in during a call, checked and signed by the resident.

See docs/forms.md.
"""
