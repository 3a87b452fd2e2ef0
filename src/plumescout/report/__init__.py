"""Report products: GeoJSON, KML, a self-contained HTML map and a PNG figure."""

from .geojson import provenance, sha256_file, write_geojson
from .kml import write_kml
from .maps import write_html_map, write_png

__all__ = ["provenance", "sha256_file", "write_geojson", "write_html_map", "write_kml", "write_png"]
