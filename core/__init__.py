"""The bottom layer: plain Python that every app, and the pure cores (statistics, SQL), may
import. Nothing here imports Django or any app."""
