"""The Streamlit annotation app for stepeval's blinded pairwise studies (`stepeval annotate ...`)."""
