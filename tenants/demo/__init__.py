"""Demo tenants for ``civicgrid serve`` and ``seed-demo``: the top layer, above every domain it seeds."""
