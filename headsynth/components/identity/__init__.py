"""The identity score: mediapipe face detection, face embeddings, corrected scores and ranks."""
