"""Services: plain Python between the pages and the analyzer (no Streamlit below this line).

``common``: the store, the model, the demo patients; ``patient``: the Patient page;
``practice``: the Practitioner page and its report; ``research``: exports and the data
dictionary.
"""
