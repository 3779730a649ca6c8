"""Use cases: what the command line and the dashboard do, one way each.

The layer between the library (intake, face, colour, measure, pipeline, recovery, store) and its
two faces (:mod:`analyzer.cli`, ``ui/``).  Modules here may import the library; the library never
imports them, and nothing here parses arguments, prints results or imports Streamlit (the
batch's optional progress bar on stderr is the one exception).

=============================  ====================================================================
:mod:`.analyzers`              opening the analyzer (the landmark model) one way: ``open_analyzer``,
                               ``LazyAnalyzer``, ``analyse_safely``
:mod:`.sources`                the photo files of a command: files, and the photos in folders
:mod:`.imports`                putting photos into the store: check, plan, analyse, commit
:mod:`.batch`                  the same import with the analysis on Dask distributed workers
:mod:`.access`                 who is acting (``Actor``) and the one role policy: ``check``, ``reach``
:mod:`.audit`                  the append-only audit log: ``record``, ``events``
:mod:`.users`                  accounts: passwords, invites, dashboard sessions, OIDC sign-in
:mod:`.patients`               a patient's record: list, create, treatments, diary, photos, deletion
:mod:`.consent`                consent as a record (texts with versions, give, withdraw, history) and
                               the care-consent gate every import passes
:mod:`.courses`                a patient's recovery course from the store
:mod:`.triage`                 the practitioner's list (their caseload), most pressing first
:mod:`.export`                 the long-form export of the stored observations
=============================  ====================================================================

Every use case takes the acting user as the keyword ``actor`` and checks it before it reads or
changes anything (``PermissionDenied`` otherwise, audited); the command line acts as
``Actor.operator()``.

Import the module you need (``from analyzer.service.imports import import_photos``): this
package imports none of them, so a command loads only what it uses.
"""
