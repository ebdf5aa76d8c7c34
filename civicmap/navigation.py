"""Links that open a place in the phone's navigation apps, each in the app's own coordinates.

We store WGS 84; Amap takes GCJ-02 and Baidu BD-09 (`civicmap.coords`). Converting here, on
the server, keeps one implementation of the transforms: a page only puts the links on buttons.

* ``amap``: ``https://uri.amap.com/marker`` in GCJ-02 (``coordinate=gaode``) with
  ``callnative=1``: Amap's app when installed, else its web page.
* ``baidu``: ``baidumap://map/direction`` to the place by bicycle (``mode=riding``, riders ride
  e-bikes) in BD-09 (``coord_type=bd09ll``); only works where Baidu Maps is installed.
* ``geo``: ``geo:LAT,LON?q=LAT,LON(NAME)`` (RFC 5870, WGS 84): whatever map app the phone has.
"""

from __future__ import annotations

from urllib.parse import quote

from civicmap.coords import wgs84_to_bd09, wgs84_to_gcj02

# Six decimals are about 0.1 m: finer than any phone's fix, coarse enough to read.
NAVIGATION_DECIMALS = 6


def _fixed(value: float) -> str:
    return f"{value:.{NAVIGATION_DECIMALS}f}"


def navigation_links(*, lon: float, lat: float, name: str) -> dict[str, str]:
    """The Amap, Baidu and ``geo:`` links to the WGS 84 point ``(lon, lat)`` labelled ``name``."""
    label = quote(name, safe="")
    gcj_lon, gcj_lat = (_fixed(value) for value in wgs84_to_gcj02(lon, lat))
    bd_lon, bd_lat = (_fixed(value) for value in wgs84_to_bd09(lon, lat))
    wgs_lon, wgs_lat = _fixed(lon), _fixed(lat)
    return {
        "amap": (f"https://uri.amap.com/marker?position={gcj_lon},{gcj_lat}&name={label}"
                 "&coordinate=gaode&callnative=1"),
        "baidu": (f"baidumap://map/direction?destination=latlng:{bd_lat},{bd_lon}|name:{label}"
                  "&coord_type=bd09ll&mode=riding"),
        "geo": f"geo:{wgs_lat},{wgs_lon}?q={wgs_lat},{wgs_lon}({label})",
    }
