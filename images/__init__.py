"""The image recipes (see README.md beside this file), shipped in the wheel as the data
package ``pdee.images``; ``pdee.recipe`` reads them."""
