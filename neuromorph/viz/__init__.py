"""Plots saved as PNG (Agg canvas, never shown): rasters, membrane traces, rate histograms, curves."""

from neuromorph.viz.curves import plot_curves
from neuromorph.viz.histograms import firing_rates, plot_rate_histogram
from neuromorph.viz.membrane import plot_membrane
from neuromorph.viz.raster import plot_raster

__all__ = ["firing_rates", "plot_curves", "plot_membrane", "plot_rate_histogram", "plot_raster"]
