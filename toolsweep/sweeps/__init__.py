"""The Ray Tune driver: sweep file → Tuner (searcher, scheduler, resources) → trials. Only this package and
``toolsweep.cluster`` import Ray."""
