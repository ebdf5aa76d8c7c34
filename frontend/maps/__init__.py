"""The office's maps, built with folium in plain functions: values in, ``folium.Map`` out.

No request, no database: the views read the layers (each app's ``layers`` module, composed by
frontend.selectors) and pass them here, so tests build a map from a handful of values and look
at what it draws. By concern: ``assets`` (our own static files, the CSP check, rendering and
releasing a tree), ``basemaps`` (tiles and the GCJ-02 shift), ``elements`` (small shared
pieces), ``layers`` (the governance map), ``console`` (the office console).
"""
