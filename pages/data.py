"""Data: upload an export, map it once (saved as an import profile), see every problem
row, screen for identifiers, store it; and manage stored datasets."""

from pathlib import Path

import streamlit as st

from analytics.errors import DataValidationError
from analytics.mapping import profile_from_mapping
from analytics.profiles import ImportProfile, profile_to_toml
from ui import config, navigation, upload
from ui import state as k
from ui.auth import current_user

user = current_user()
st.title("Data")
st.caption(
    "Upload a CSV, TSV, Excel (.xlsx) or Parquet export in any shape. Map its columns once; "
    "the mapping is saved as an import profile, so next month's export loads in one step."
)
tab_upload, tab_stored = st.tabs(["Upload", "Stored datasets"])

with tab_stored:
    upload.dataset_manager(user)

if not user.can_upload:
    tab_upload.info("Uploading, renaming and deleting datasets needs the uploader role.")
    st.stop()

with tab_upload:
    c1, c2 = st.columns([3, 2])
    file = c1.file_uploader(
        "Export file",
        type=["csv", "tsv", "txt", "xlsx", "parquet"],
        key=k.UPLOAD,
        max_upload_size=config.max_upload_mb(),
    )
    example = c2.selectbox(
        "…or try an example export (synthetic)",
        options=[None, *upload.EXAMPLES],
        format_func=lambda x: "—" if x is None else x,
        key="data_example",
    )
    profile_file = c2.file_uploader(
        "Import profile (optional .toml)", type=["toml"], key=k.UPLOAD_PROFILE_FILE
    )
    if file is None and example is None:
        st.info("Choose a file, or an example export, to begin.")
        st.stop()
    source = (
        upload.Source(file.file_id, file.name, file.getvalue())
        if file is not None
        else upload.example_source(example)
    )
    sheet = st.session_state.get(k.UPLOAD_SHEET)
    try:
        table = upload.read_source(source, sheet, config.max_upload_bytes())
        if sheet is None and len(table.sheets) > 1:
            st.selectbox("Worksheet", options=list(table.sheets), key=k.UPLOAD_SHEET)
        profile, how = upload.starting_profile(
            table, profile_file.getvalue() if profile_file else None, source.file_id
        )
    except DataValidationError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    for notice in table.notices:
        st.caption(f":material/info: {notice}")
    with st.expander(f"Preview: {len(table.frame):,} rows × {len(table.columns)} columns"):
        st.dataframe(table.frame.head(20), hide_index=True)

    st.subheader("1 · Map the columns")
    st.caption(f"Starting from {how}.")
    declared = upload.custom_instruments_form()
    known = {i.id for i in profile.instruments}
    profile = profile.with_(
        instruments=(*profile.instruments, *(i for i in declared if i.id not in known))
    )
    registry = profile.registry
    flagged = {f.column for f in upload.raw_findings(source.file_id, sheet, table)}
    mapping = upload.mapping_editor(
        table, profile, registry, k.mapping_key(source.file_id, sheet), flagged
    )
    o1, o2 = st.columns(2)
    before = o1.checkbox(
        "Scores were collected before each infusion (session k = k − 1 infusions received)",
        value=profile.scores_before_infusion,
        key=k.UPLOAD_BEFORE_INFUSION,
    )
    dayfirst = o2.checkbox(
        "Dates are day/month/year", value=profile.dayfirst, key=k.UPLOAD_DAYFIRST
    )
    labels = upload.label_editor(table, mapping, registry, k.labels_key(source.file_id, sheet))
    name = st.text_input("Profile name", value=profile.name, key=k.UPLOAD_PROFILE_NAME)
    try:
        chosen: ImportProfile = profile_from_mapping(
            mapping,
            name=name,
            base=profile,
            scores_before_infusion=before,
            dayfirst=dayfirst,
            instrument_values=labels,
        )
        ingested = upload.ingest_source(source.file_id, sheet, profile_to_toml(chosen), table)
    except DataValidationError as exc:
        st.warning(f"Mapping incomplete: {exc}", icon=":material/edit_note:")
        st.stop()

    st.subheader("2 · Check every row")
    upload.validation_report(ingested.result)

    st.subheader("3 · Screen for identifiers")
    drop, safe, still_open = upload.identifier_review(ingested)
    final = chosen.with_(identifiers_drop=tuple(drop), identifiers_confirmed_safe=tuple(safe))
    st.download_button(
        "Download the import profile (.toml)",
        profile_to_toml(final),
        file_name=f"{Path(source.name).stem}_profile.toml",
        icon=":material/download:",
    )

    st.subheader("4 · Save")
    dataset_name = st.text_input("Dataset name", value=Path(source.name).stem, key=k.UPLOAD_NAME)
    ready = not still_open and not ingested.data.empty
    if still_open:
        st.caption(f"Decide on {len(still_open)} flagged column(s) first.")
    if st.button("Save dataset", type="primary", disabled=not ready, icon=":material/save:"):
        if drop:
            ingested = upload.ingest_source(source.file_id, sheet, profile_to_toml(final), table)
        try:
            new_id = upload.save_dataset(ingested, final, dataset_name, user.email)
        except DataValidationError as exc:
            st.error(str(exc))
            st.stop()
        st.session_state[k.PENDING_DATASET] = new_id
        navigation.switch_to("overview")
