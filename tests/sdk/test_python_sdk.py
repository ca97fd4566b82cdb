#!/usr/bin/env python3
"""`sightline serve` through Microsoft's Python client, azure-ai-vision-imageanalysis 1.0.0, used
exactly as its README shows (ImageAnalysisClient + AzureKeyCredential), and the retrieval
(vectorize) routes over plain HTTP as Microsoft's own samples call them (the SDK has no client for
those).

Run by tests/sdk/run, which starts the servers and sets:
  SIGHTLINE_SDK_ENDPOINT         the server started with --key and --allow-private-urls
  SIGHTLINE_SDK_KEY              its key
  SIGHTLINE_SDK_STRICT_ENDPOINT  a server without a key and without --allow-private-urls, with
                                 --workers 1 --queue 1 (a burst of three fills it: 429)
  SIGHTLINE_SDK_IMAGES           ../shared/images

The model is synthetic (random weights): tags and vectors are meaningless numbers, so these tests
check shapes, ranges and consistency. The OCR model is the real PP-OCRv5, so read's text is checked.
(On the tiny model every tag falls below the server's confidence threshold, so tagsResult.values
is empty and the tag checks only see the list's presence; they bite with a real model.)
"""

import http.client
import json
import math
import os
import threading
import unittest
import urllib.parse
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests  # comes with azure-core; what Microsoft's REST samples use
from PIL import Image
from azure.ai.vision.imageanalysis import ImageAnalysisClient
from azure.ai.vision.imageanalysis.models import VisualFeatures
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

ENDPOINT = os.environ["SIGHTLINE_SDK_ENDPOINT"]
KEY = os.environ["SIGHTLINE_SDK_KEY"]
STRICT_ENDPOINT = os.environ["SIGHTLINE_SDK_STRICT_ENDPOINT"]
IMAGES = Path(os.environ["SIGHTLINE_SDK_IMAGES"])

COFFEE = IMAGES / "photos/coffee.png"
ROCKET = IMAGES / "photos/rocket.jpg"
TWO_PEOPLE = IMAGES / "faces/two_people.jpg"
GRACE_HOPPER = IMAGES / "faces/grace_hopper.jpg"
PHOTOTEST = IMAGES / "ocr/phototest.tif"

ANALYZE = "/computervision/imageanalysis:analyze"
VECTORIZE_IMAGE = "/computervision/retrieval:vectorizeImage"
VECTORIZE_TEXT = "/computervision/retrieval:vectorizeText"
# The SDK retries 429 and 5xx answers three times with back-off; a test should fail at once instead.
SDK_OPTIONS = {"retry_total": 0}


def image_size(path):
    with Image.open(path) as image:
        return image.size


# A static file server on 127.0.0.1 for analyze_from_url; it records the paths it was asked for,
# so a test can tell whether the strict server fetched a URL it should have refused.
class RecordingHandler(SimpleHTTPRequestHandler):
    requested = []

    def log_message(self, *args):
        RecordingHandler.requested.append(self.path)


static_server = None
STATIC = None


def setUpModule():
    global static_server, STATIC
    static_server = ThreadingHTTPServer(("127.0.0.1", 0), partial(RecordingHandler, directory=str(IMAGES)))
    threading.Thread(target=static_server.serve_forever, daemon=True).start()
    STATIC = f"http://127.0.0.1:{static_server.server_address[1]}"


def tearDownModule():
    static_server.shutdown()
    static_server.server_close()


def raw_request(endpoint, method, target, body=b"", headers=None):
    """One request with the target sent byte for byte as given (no client re-encoding); returns
    (status, headers, body bytes)."""
    url = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def error_codes(body):
    """error.code and error.innererror.code of an Azure error body."""
    error = json.loads(body)["error"]
    return error.get("code"), (error.get("innererror") or {}).get("code")


class Checks(unittest.TestCase):
    """Assertions on the SDK's result objects, shared by the test classes."""

    def check_metadata(self, result, path):
        width, height = image_size(path)
        self.assertEqual((result.metadata.width, result.metadata.height), (width, height))
        self.assertIsInstance(result.model_version, str)
        self.assertTrue(result.model_version)
        return width, height

    def check_tags(self, result):
        self.assertIsNotNone(result.tags, "tagsResult missing")
        confidences = []
        for tag in result.tags.list:
            self.assertIsInstance(tag.name, str)
            self.assertTrue(tag.name)
            self.assertGreaterEqual(tag.confidence, 0.0)
            self.assertLessEqual(tag.confidence, 1.0)
            confidences.append(tag.confidence)
        self.assertEqual(confidences, sorted(confidences, reverse=True), "tags not ordered by confidence")

    def check_box(self, box, width, height):
        self.assertGreater(box.width, 0)
        self.assertGreater(box.height, 0)
        self.assertGreaterEqual(box.x, 0)
        self.assertGreaterEqual(box.y, 0)
        self.assertLessEqual(box.x + box.width, width)
        self.assertLessEqual(box.y + box.height, height)

    def check_crops(self, result, width, height, ratios):
        self.assertIsNotNone(result.smart_crops, "smartCropsResult missing")
        crops = result.smart_crops.list
        self.assertEqual(len(crops), len(ratios), crops)
        for crop, ratio in zip(sorted(crops, key=lambda c: c.aspect_ratio), sorted(ratios)):
            self.assertAlmostEqual(crop.aspect_ratio, ratio, delta=0.01)
            box = crop.bounding_box
            self.check_box(box, width, height)
            self.assertAlmostEqual(box.width / box.height, crop.aspect_ratio, delta=0.05, msg=crop)

    def check_people(self, result, width, height, at_least=0):
        self.assertIsNotNone(result.people, "peopleResult missing")
        self.assertGreaterEqual(len(result.people.list), at_least)
        for person in result.people.list:
            self.check_box(person.bounding_box, width, height)
            self.assertGreaterEqual(person.confidence, 0.0)
            self.assertLessEqual(person.confidence, 1.0)


class AnalyzeWithTheSdk(Checks):
    @classmethod
    def setUpClass(cls):
        cls.client = ImageAnalysisClient(ENDPOINT, AzureKeyCredential(KEY), **SDK_OPTIONS)

    def analyze_file(self, path, features, **kwargs):
        return self.client.analyze(image_data=path.read_bytes(), visual_features=features, **kwargs)

    def test_tags_crops_people_on_a_photo(self):
        for path in (COFFEE, ROCKET):
            with self.subTest(image=path.name):
                result = self.analyze_file(
                    path, [VisualFeatures.TAGS, VisualFeatures.SMART_CROPS, VisualFeatures.PEOPLE],
                    smart_crops_aspect_ratios=[0.9, 1.33])
                width, height = self.check_metadata(result, path)
                self.check_tags(result)
                self.check_crops(result, width, height, [0.9, 1.33])
                self.check_people(result, width, height)
                self.assertIsNone(result.read)
                self.assertIsNone(result.caption)

    def test_people_found_on_two_people(self):
        result = self.analyze_file(
            TWO_PEOPLE, [VisualFeatures.TAGS, VisualFeatures.SMART_CROPS, VisualFeatures.PEOPLE],
            smart_crops_aspect_ratios=[0.9, 1.33])
        width, height = self.check_metadata(result, TWO_PEOPLE)
        self.check_tags(result)
        self.check_crops(result, width, height, [0.9, 1.33])
        self.check_people(result, width, height, at_least=1)

    def test_one_default_crop_without_ratios(self):
        # Azure: without smartcrops-aspect-ratios, one crop at a ratio the service picks.
        result = self.analyze_file(GRACE_HOPPER, [VisualFeatures.SMART_CROPS])
        width, height = self.check_metadata(result, GRACE_HOPPER)
        self.assertEqual(len(result.smart_crops.list), 1)
        crop = result.smart_crops.list[0]
        self.check_box(crop.bounding_box, width, height)
        self.assertGreaterEqual(crop.aspect_ratio, 0.5)
        self.assertLessEqual(crop.aspect_ratio, 2.0)

    def test_read_phototest(self):
        result = self.analyze_file(PHOTOTEST, [VisualFeatures.READ])
        width, height = self.check_metadata(result, PHOTOTEST)
        self.assertIsNotNone(result.read, "readResult missing")
        self.assertGreaterEqual(len(result.read.blocks), 1)
        lines = result.read.blocks[0].lines
        text = " ".join(line.text for line in lines)
        truth = (PHOTOTEST.with_suffix(".txt")).read_text()
        for phrase in ("12 point text", "quick brown dog", "lazy fox", "file format"):
            self.assertIn(phrase, truth)  # the phrases come from the truth file
            self.assertIn(phrase, text)
        for line in lines:
            self.assertGreaterEqual(len(line.bounding_polygon), 4)
            for point in line.bounding_polygon:
                self.assertTrue(0 <= point.x <= width and 0 <= point.y <= height, point)
            self.assertTrue(line.words, line)
            for word in line.words:
                self.assertIn(word.text, line.text)
                self.assertGreaterEqual(len(word.bounding_polygon), 4)
                self.assertGreaterEqual(word.confidence, 0.0)
                self.assertLessEqual(word.confidence, 1.0)

    def test_every_keyword_argument_the_sdk_sends(self):
        # language, gender-neutral-caption and model-version (a dated one is answered as latest).
        for model_version in ("latest", "2023-10-01"):
            with self.subTest(model_version=model_version):
                result = self.analyze_file(
                    COFFEE, [VisualFeatures.TAGS], language="en", gender_neutral_caption=False,
                    model_version=model_version)
                self.check_metadata(result, COFFEE)
                self.check_tags(result)

    def test_endpoint_with_a_trailing_slash(self):
        # The SDK then asks for //computervision/imageanalysis:analyze (users paste endpoints
        # from the Azure portal with the slash).
        client = ImageAnalysisClient(ENDPOINT + "/", AzureKeyCredential(KEY), **SDK_OPTIONS)
        result = client.analyze(image_data=COFFEE.read_bytes(), visual_features=[VisualFeatures.TAGS])
        self.check_metadata(result, COFFEE)
        self.check_tags(result)

    def test_analyze_from_url(self):
        url = f"{STATIC}/photos/coffee.png"
        result = self.client.analyze_from_url(
            image_url=url, visual_features=[VisualFeatures.TAGS, VisualFeatures.SMART_CROPS, VisualFeatures.PEOPLE],
            smart_crops_aspect_ratios=[0.9, 1.33])
        width, height = self.check_metadata(result, COFFEE)
        self.check_tags(result)
        self.check_crops(result, width, height, [0.9, 1.33])
        self.check_people(result, width, height)
        self.assertIn("/photos/coffee.png", RecordingHandler.requested)

    def test_analyze_from_a_private_url_is_refused_by_default(self):
        client = ImageAnalysisClient(STRICT_ENDPOINT, AzureKeyCredential("no-key-needed"), **SDK_OPTIONS)
        path = "/photos/coffee.png?should-not-be-fetched"
        with self.assertRaises(HttpResponseError) as caught:
            client.analyze_from_url(image_url=STATIC + path, visual_features=[VisualFeatures.TAGS])
        e = caught.exception
        self.assertEqual(e.status_code, 400, e)
        self.assertEqual(e.error.code, "InvalidRequest", e)
        self.assertEqual(e.error.innererror.get("code"), "InvalidImageUrl", e)
        self.assertTrue(e.response.headers.get("x-ms-error-code"), "no x-ms-error-code header")
        self.assertNotIn(path, RecordingHandler.requested, "the strict server fetched a loopback URL")

    def test_wrong_key(self):
        client = ImageAnalysisClient(ENDPOINT, AzureKeyCredential(KEY + "-wrong"), **SDK_OPTIONS)
        with self.assertRaises(ClientAuthenticationError) as caught:
            client.analyze(image_data=COFFEE.read_bytes(), visual_features=[VisualFeatures.TAGS])
        self.assertEqual(caught.exception.status_code, 401)

    def test_bad_image_bytes(self):
        with self.assertRaises(HttpResponseError) as caught:
            self.client.analyze(image_data=b"not an image", visual_features=[VisualFeatures.TAGS])
        e = caught.exception
        self.assertEqual(e.status_code, 400, e)
        self.assertEqual(e.error.code, "InvalidRequest", e)
        self.assertIn(e.error.innererror.get("code"), ("InvalidImageFormat", "InvalidImageSize"), e)
        self.assertTrue(e.error.message)
        self.assertTrue(e.response.headers.get("x-ms-error-code"), "no x-ms-error-code header")

    def test_caption_dense_captions_and_objects_through_the_model(self):
        # The main server asks the mock's Azure OpenAI deployment (tests/sdk/run).
        result = self.analyze_file(
            ROCKET, [VisualFeatures.CAPTION, VisualFeatures.DENSE_CAPTIONS, VisualFeatures.OBJECTS, VisualFeatures.TAGS],
            gender_neutral_caption=True)
        width, height = self.check_metadata(result, ROCKET)
        self.check_tags(result)
        self.assertEqual(result.caption.text, "a person riding a bicycle down a city street")
        self.assertGreater(result.caption.confidence, 0.0)
        self.assertLessEqual(result.caption.confidence, 1.0)
        dense = result.dense_captions.list
        self.assertEqual((dense[0].bounding_box.x, dense[0].bounding_box.y, dense[0].bounding_box.width,
                          dense[0].bounding_box.height), (0, 0, width, height), "the first is the whole image")
        self.assertLessEqual(len(dense), 10)
        for caption in dense:
            self.assertTrue(caption.text)
            self.check_box(caption.bounding_box, width, height)
        names = [o.tags[0].name for o in result.objects.list]
        self.assertEqual(names, ["person", "bicycle"])
        for detected in result.objects.list:
            self.check_box(detected.bounding_box, width, height)
            self.assertLessEqual(detected.tags[0].confidence, 1.0)

    def test_unsupported_features_without_a_model(self):
        # The strict server has no vision-language model: caption, denseCaptions and objects are
        # refused as Azure refuses a feature it does not have.
        client = ImageAnalysisClient(STRICT_ENDPOINT, AzureKeyCredential("any"), **SDK_OPTIONS)
        for feature in (VisualFeatures.CAPTION, VisualFeatures.DENSE_CAPTIONS, VisualFeatures.OBJECTS):
            with self.subTest(feature=feature):
                with self.assertRaises(HttpResponseError) as caught:
                    client.analyze(image_data=COFFEE.read_bytes(), visual_features=[VisualFeatures.TAGS, feature])
                e = caught.exception
                self.assertEqual(e.status_code, 400, e)
                self.assertIn("NotSupportedVisualFeature", (e.error.code, e.error.innererror.get("code")), e)


class Throttling(unittest.TestCase):
    """The strict server has one worker and a queue of one (tests/sdk/run): more requests at once
    get 429 with Retry-After, which Azure's SDKs honour by waiting and retrying."""

    TARGET = f"{ANALYZE}?api-version=2023-10-01&features=people,smartCrops"

    def burst(self, count, call):
        """`count` calls of `call()` released together; their results (or exceptions) in order."""
        barrier = threading.Barrier(count)
        results = [None] * count

        def run(i):
            barrier.wait()
            try:
                results[i] = call()
            except Exception as e:  # reported by the test
                results[i] = e

        threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return results

    def test_a_full_queue_answers_429_with_retry_after(self):
        body = TWO_PEOPLE.read_bytes()
        results = self.burst(6, lambda: raw_request(STRICT_ENDPOINT, "POST", self.TARGET, body,
                                                    {"Content-Type": "application/octet-stream"}))
        statuses = [r[0] if isinstance(r, tuple) else repr(r) for r in results]
        self.assertTrue(set(statuses) <= {200, 429}, statuses)
        self.assertIn(200, statuses)
        self.assertIn(429, statuses)
        for status, headers, answer in results:
            if status == 429:
                self.assertGreaterEqual(int(headers["Retry-After"]), 1)
                self.assertTrue(headers.get("x-ms-error-code"))
                self.assertTrue(json.loads(answer)["error"]["code"])

    def test_the_sdk_waits_and_retries_after_429(self):
        client = ImageAnalysisClient(STRICT_ENDPOINT, AzureKeyCredential("no-key-needed"))  # default retries
        body = TWO_PEOPLE.read_bytes()
        results = self.burst(3, lambda: client.analyze(image_data=body, visual_features=[VisualFeatures.PEOPLE]))
        for result in results:
            self.assertNotIsInstance(result, Exception, result)
            self.assertGreaterEqual(len(result.people.list), 1)


class VectorizeOverHttp(unittest.TestCase):
    """The retrieval routes as Microsoft's samples call them (requests, key header, api-version)."""

    def post(self, route, model_version="latest", **kwargs):
        headers = {"Ocp-Apim-Subscription-Key": KEY, **kwargs.pop("headers", {})}
        return requests.post(ENDPOINT + route, params={"api-version": "2024-02-01", "model-version": model_version},
                             headers=headers, timeout=120, **kwargs)

    def vector(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        body = response.json()
        self.assertIsInstance(body["modelVersion"], str)
        vector = body["vector"]
        self.assertGreater(len(vector), 0)
        self.assertTrue(all(isinstance(v, float) and math.isfinite(v) for v in vector))
        self.assertAlmostEqual(math.sqrt(sum(v * v for v in vector)), 1.0, delta=1e-3)
        return vector

    def image(self, path=COFFEE):
        return self.post(VECTORIZE_IMAGE, data=path.read_bytes(),
                         headers={"Content-Type": "application/octet-stream"})

    def text(self, text, model_version="latest"):
        return self.post(VECTORIZE_TEXT, model_version=model_version, json={"text": text})

    def test_image_and_text_vectors_share_a_space(self):
        image = self.vector(self.image())
        text = self.vector(self.text("a cup of coffee"))
        self.assertEqual(len(image), len(text))

    def test_same_image_same_vector(self):
        first, second = self.vector(self.image()), self.vector(self.image())
        cosine = sum(a * b for a, b in zip(first, second))
        self.assertGreaterEqual(cosine, 0.9999)

    def test_image_from_url(self):
        from_bytes = self.vector(self.image())
        from_url = self.vector(self.post(VECTORIZE_IMAGE, json={"url": f"{STATIC}/photos/coffee.png"}))
        self.assertGreaterEqual(sum(a * b for a, b in zip(from_bytes, from_url)), 0.9999)

    def test_azure_model_versions_are_refused(self):
        # Azure's dated multimodal embedding models are another vector space: a client that asked
        # for one must not get Sightline's vectors silently.
        for version in ("2023-04-15", "2022-04-11"):
            with self.subTest(version=version):
                for response in (self.post(VECTORIZE_IMAGE, model_version=version, data=COFFEE.read_bytes(),
                                           headers={"Content-Type": "application/octet-stream"}),
                                 self.text("a cup of coffee", model_version=version)):
                    self.assertEqual(response.status_code, 400, response.text)
                    self.assertIn("NotSupportedModelVersion", error_codes(response.content), response.text)
                    self.assertTrue(response.headers.get("x-ms-error-code"))


class PlainHttp(unittest.TestCase):
    """Wire details a hand-written client (or another SDK) relies on, sent byte for byte."""

    def analyze(self, target, body=None, endpoint=ENDPOINT, content_type="application/octet-stream", key=KEY):
        headers = {"Content-Type": content_type}
        if key is not None:
            headers["Ocp-Apim-Subscription-Key"] = key
        return raw_request(endpoint, "POST", target, COFFEE.read_bytes() if body is None else body, headers)

    def assert_error(self, status, headers, body, expected_status, code=None):
        self.assertEqual(status, expected_status, body[:500])
        error = json.loads(body)["error"]
        self.assertTrue(error.get("code"), body)
        self.assertTrue(error.get("message"), body)
        if code:
            self.assertIn(code, error_codes(body), body)
        self.assertTrue(headers.get("x-ms-error-code"), f"no x-ms-error-code header on {status}")

    def test_percent_encoded_comma(self):
        # What the JavaScript client sends: features=tags%2Cpeople.
        status, _, body = self.analyze(f"{ANALYZE}?api-version=2023-10-01&features=tags%2Cpeople")
        self.assertEqual(status, 200, body[:500])
        result = json.loads(body)
        self.assertIn("tagsResult", result)
        self.assertIn("peopleResult", result)
        self.assertNotIn("smartCropsResult", result)

    def test_doubled_slash(self):
        status, _, body = self.analyze(f"/{ANALYZE}?api-version=2023-10-01&features=tags,smartCrops"
                                       "&smartcrops-aspect-ratios=0.9,1.33")
        self.assertEqual(status, 200, body[:500])
        self.assertEqual(len(json.loads(body)["smartCropsResult"]["values"]), 2)

    def test_query_names_are_case_insensitive(self):
        # The JavaScript README spells it smartCrops-aspect-ratios.
        status, _, body = self.analyze(f"{ANALYZE}?API-Version=2023-10-01&Features=smartCrops"
                                       "&smartCrops-aspect-ratios=1.33")
        self.assertEqual(status, 200, body[:500])
        crops = json.loads(body)["smartCropsResult"]["values"]
        self.assertEqual([round(c["aspectRatio"], 2) for c in crops], [1.33])

    def test_synthetic_model_says_so(self):
        status, _, body = self.analyze(f"{ANALYZE}?api-version=2023-10-01&features=tags")
        self.assertEqual(status, 200)
        self.assertIn("synthetic", json.loads(body).get("warning", "").lower())

    def test_health(self):
        for path in ("/health/live", "/health/ready"):
            with self.subTest(path=path):
                status, _, body = raw_request(ENDPOINT, "GET", path)
                self.assertEqual(status, 200, body)

    def test_missing_key(self):
        self.assert_error(*self.analyze(f"{ANALYZE}?api-version=2023-10-01&features=tags", key=None), 401)

    def test_no_key_needed_without_key(self):
        status, _, body = self.analyze(f"{ANALYZE}?api-version=2023-10-01&features=tags",
                                       endpoint=STRICT_ENDPOINT, key=None)
        self.assertEqual(status, 200, body[:500])

    def test_unknown_path(self):
        self.assert_error(*self.analyze("/computervision/imageanalysis:describe?api-version=2023-10-01"), 404)

    def test_wrong_method(self):
        self.assert_error(*raw_request(ENDPOINT, "GET", f"{ANALYZE}?api-version=2023-10-01&features=tags",
                                       headers={"Ocp-Apim-Subscription-Key": KEY}), 405)

    def test_unsupported_content_type(self):
        self.assert_error(*self.analyze(f"{ANALYZE}?api-version=2023-10-01&features=tags",
                                        content_type="text/plain"), 415)

    def test_keep_alive_survives_an_early_error(self):
        # Clients (the SDKs' connection pools, http.client) reuse a connection unless the answer
        # says `Connection: close` (RFC 9112 9.6). An error answered before the body was read
        # (wrong key, unknown path, a full queue) must either say so or leave the connection
        # usable for the next request.
        url = urllib.parse.urlsplit(ENDPOINT)
        body = TWO_PEOPLE.read_bytes()
        ok_target = f"{ANALYZE}?api-version=2023-10-01&features=tags"
        for what, target, key in (("wrong key", ok_target, KEY + "-wrong"),
                                  ("unknown path", "/computervision/imageanalysis:describe?api-version=2023-10-01", KEY)):
            with self.subTest(what):
                connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
                try:
                    headers = {"Content-Type": "application/octet-stream", "Ocp-Apim-Subscription-Key": key}
                    connection.request("POST", target, body=body, headers=headers)
                    first = connection.getresponse()
                    first.read()
                    self.assertGreaterEqual(first.status, 400)
                    if first.will_close:
                        continue  # the server said it closes: clients open a new connection
                    headers["Ocp-Apim-Subscription-Key"] = KEY
                    try:
                        connection.request("POST", ok_target, body=body, headers=headers)
                        second = connection.getresponse()
                        second.read()
                    except (OSError, http.client.HTTPException) as e:
                        self.fail(f"after a {first.status} without `Connection: close`, the next request on the "
                                  f"same connection failed: {type(e).__name__}: {e}")
                    self.assertEqual(second.status, 200)
                finally:
                    connection.close()

    def test_body_over_20_mb(self):
        # Sent in pieces: a server may answer 413 from Content-Length before reading the rest.
        url = urllib.parse.urlsplit(ENDPOINT)
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        size = 20 * 1024 * 1024 + 1024
        try:
            connection.putrequest("POST", f"{ANALYZE}?api-version=2023-10-01&features=tags")
            connection.putheader("Content-Type", "application/octet-stream")
            connection.putheader("Content-Length", str(size))
            connection.putheader("Ocp-Apim-Subscription-Key", KEY)
            connection.endheaders()
            chunk = b"\0" * (1024 * 1024)
            try:
                for _ in range(size // len(chunk)):
                    connection.send(chunk)
                connection.send(b"\0" * (size % len(chunk)))
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server stopped reading once it had decided; its answer is still there
            response = connection.getresponse()
            self.assert_error(response.status, response.headers, response.read(), 413)
        finally:
            connection.close()


if __name__ == "__main__":
    unittest.main()
