"""`impasto video`: temporally consistent style transfer for clips (Ruder, Dosovitskiy & Brox 2016).

media.py reads and writes clips with PyAV (timestamps, rotation, colour, sound); flow.py computes
the optical flow with OpenCV's DIS; paint.py is the temporal loop over the engine; work.py the
resumable work folder; pipeline.py ties them together for cli/video.py. The math (warp,
consistency weights, temporal loss) is nst/temporal.py. Needs the `impasto[video]` extra.
"""
