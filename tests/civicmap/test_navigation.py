"""The navigation links: each app's coordinates converted by civicmap.coords, the name encoded."""

from __future__ import annotations

from civicmap.coords import wgs84_to_bd09, wgs84_to_gcj02
from civicmap.navigation import navigation_links

NANYUAN = (116.392, 39.797)  # WGS 84


def test_each_link_is_in_its_apps_coordinate_system():
    links = navigation_links(lon=NANYUAN[0], lat=NANYUAN[1], name="南苑 驿站&1")
    gcj_lon, gcj_lat = wgs84_to_gcj02(*NANYUAN)
    bd_lon, bd_lat = wgs84_to_bd09(*NANYUAN)
    name = "%E5%8D%97%E8%8B%91%20%E9%A9%BF%E7%AB%99%261"
    assert links == {
        "amap": f"https://uri.amap.com/marker?position={gcj_lon:.6f},{gcj_lat:.6f}&name={name}"
                "&coordinate=gaode&callnative=1",
        "baidu": f"baidumap://map/direction?destination=latlng:{bd_lat:.6f},{bd_lon:.6f}"
                 f"|name:{name}&coord_type=bd09ll&mode=riding",
        "geo": f"geo:39.797000,116.392000?q=39.797000,116.392000({name})",
    }
    # The offsets are real: hundreds of metres in Beijing, BD-09 beyond GCJ-02.
    assert 0.004 < gcj_lon - NANYUAN[0] < 0.008 and 0.01 < bd_lon - NANYUAN[0] < 0.02
