"""The dashboard: page settings and routes only (``streamlit run app.py``).

Pages live in ``ui/pages``; they call ``ui/services``; nothing below ``ui/`` imports Streamlit.
"""

import streamlit as st

st.set_page_config(page_title="Skin recovery", page_icon=":material/healing:", layout="wide")

pages = [
    st.Page("ui/pages/patient.py", title="Patient", icon=":material/face:", url_path="patient", default=True),
    st.Page("ui/pages/practitioner.py", title="Practitioner", icon=":material/clinical_notes:",
            url_path="practitioner"),
    st.Page("ui/pages/research.py", title="Research", icon=":material/table_chart:", url_path="research"),
    st.Page("ui/pages/methods.py", title="Methods", icon=":material/menu_book:", url_path="methods"),
]
st.navigation(pages).run()
